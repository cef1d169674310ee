/*
 * fynsync-bench: load generator and latency probe for a running fynsync hub.
 *
 * N publisher connections submit order.created events (fresh random UUIDs)
 * to fynlo/v1/in/{rid}/order/created and read their answers on
 * fynlo/v1/client/{cid}/ack; one subscriber connection (restaurant_owner)
 * reads fynlo/v1/ev/{rid}/full/# and matches each confirmed event by id to
 * the moment it was submitted. With --restaurants K the publishers are
 * spread over K restaurants ({rid}-0 .. {rid}-K-1, publisher i writes to
 * i mod K), the subscriber reads all of them, and seq is checked per
 * restaurant.
 *
 * --raw measures plain mosquitto instead (no plugin, anonymous): the same
 * publishers publish the same payloads with the same QoS to
 * bench/{rid}/order/created, the subscriber reads bench/#, and an event
 * counts as answered (accepted and confirmed) when the subscriber receives
 * it, so --window bounds the events in flight from publish to delivery (a
 * closed loop, as with the hub). Every connection is driven by one epoll
 * loop (ppoll with --urls) on this thread (libmosquitto's non-threaded
 * interface), so callbacks need no locks and every timestamp is
 * CLOCK_MONOTONIC taken on the same thread.
 *
 *   fynsync-bench [--host H] [--port P] [--sub-port P] [--restaurant R] [--publishers N]
 *                 [--rate EV_PER_S] [--window W] [--duration S] [--count N]
 *                 [--warmup S] [--drain-timeout S]
 *                 (--secret-file F | --token T [--token T ...] --sub-token T)
 *                 [--timeline FILE] [--samples FILE] [--mqtt-version 5|311]
 *
 * --rate 0 (default) sends as fast as the hub answers, with at most --window
 * events per publisher not yet answered or (when accepted) not yet
 * received by the subscriber, so neither the hub's queue nor the
 * subscriber's backlog in mosquitto grows without bound; --rate R > 0 paces R events/s in total,
 * round robin over the publishers (a publisher whose window is full delays
 * the schedule; the delay is reported as send lag).
 *
 * --sub-port connects the subscriber to another hub node than the
 * publishers (default: --port), to measure cross-node fan-out (docs/scale.md).
 *
 * --urls A,B,... (issue 12): each client connects to the first broker that
 * answers and, when its connection drops, to the next one; there a
 * publisher resubmits its unanswered events with their ids and a
 * subscriber resumes (ctl/resume) from its last seq, dropping seqs it has
 * and holding none past a gap (it resumes again instead), as the JS client
 * does. The run's checks stay: every accepted event confirmed once, seq
 * gap-free.
 *
 * --storm (issue 10's reconnect storm): no publishers; --subscribers N
 * clients over --restaurants K connect at once and each resumes after
 * --resume-after A as soon as it is subscribed; the run fails unless every
 * one gets exactly seq A+1 .. A+--behind of its restaurant, in order, then
 * its replay.done.
 *
 * Output: a human summary on stdout, then one JSON line (the last line).
 * Exit status: 0 run complete and consistent, 1 run complete but the hub
 * lost, duplicated or reordered something (see "problems"), 2 usage or
 * setup error (bad option, cannot connect, refused, disconnected).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <jwt.h>
#include <mosquitto.h>

#include "bench_common.h"
#include "json_fields.h"
#include "timestamp.h"

#define MAX_PUBLISHERS 4096
#define MAX_STREAMS 1024
#define MAX_SUBSCRIBERS 16384
#define MAX_TOKENS 256
#define MAX_URLS 8
#define CLIENT_ID_MAX 65
#define TOPIC_MAX 256
#define EVENT_MAX 1024
#define NS_PER_MS 1000000LL
#define MISC_INTERVAL_NS (100 * NS_PER_MS)
#define IDLE_POLL_NS (20 * NS_PER_MS)

/* ---- options ----------------------------------------------------------- */

struct options {
	const char *host;
	int port;
	int sub_port;              /* 0: the publishers' port */
	const char *urls;          /* --urls: brokers in order of preference */
	bool storm;
	long long resume_after;    /* --storm: every subscriber resumes after this seq */
	long long behind;          /* --storm: ... and must get exactly this many events */
	const char *sub_role;
	const char *restaurant;
	int restaurants;
	bool raw;
	bool hold;
	int publishers;
	int subscribers;
	double rate;
	int window;
	double duration_s;
	long long count;           /* 0: no limit */
	double warmup_s;
	double drain_timeout_s;
	double connect_timeout_s;
	const char *secret_file;
	const char *pub_role;
	const char *tokens[MAX_TOKENS];
	int token_count;
	const char *sub_token;
	const char *timeline_file;
	const char *samples_file;
	const char *id_prefix;
	int mqtt_version;
	int qos;
	bool quiet;
};

static void usage(FILE *out)
{
	fputs("usage: fynsync-bench [options]\n"
	      "  --host H              broker host (127.0.0.1)\n"
	      "  --port P              broker MQTT port (1883)\n"
	      "  --sub-port P          the subscribers' broker port, another node's (--port)\n"
	      "  --urls LIST           mqtt://host:port,... instead of --host/--port: every client connects to\n"
	      "                        the first that answers and, when its connection drops, to the next one\n"
	      "                        (round robin); publishers then resubmit their unanswered events (same\n"
	      "                        id), subscribers resume from their last seq (--subscribers 1, or one per\n"
	      "                        restaurant, at most 8 restaurants per subscriber)\n"
	      "  --storm               reconnect storm: --publishers 0, --subscribers N over --restaurants K\n"
	      "                        (subscriber j on restaurant j mod K) connect at once and each resumes\n"
	      "                        after --resume-after A; each must get exactly --behind B events, seq\n"
	      "                        A+1 .. A+B in order, then replay.done with head A+B (busy answers are\n"
	      "                        retried after 100-600 ms); --duration is the time allowed\n"
	      "  --resume-after A      see --storm (0)\n"
	      "  --behind B            see --storm (100)\n"
	      "  --sub-role R          role of minted subscriber tokens (restaurant_owner; --storm: staff)\n"
	      "  --restaurant R        restaurant id (r1); with --restaurants K > 1 the prefix of K ids R-0 ..\n"
	      "  --restaurants K       spread the publishers over K restaurants (1)\n"
	      "  --raw                 plain mosquitto: publish to bench/R/..., answered = delivered to the subscriber\n"
	      "  --publishers N        publisher connections (8; 0 with --hold)\n"
	      "  --hold                subscribers only (--publishers 0): hold them for --duration (or until SIGINT)\n"
	      "                        and time each delivery from the event's created_at (ms), for a second\n"
	      "                        process beside a run (one process holds at most 1/3 of its descriptor limit)\n"
	      "  --subscribers N       subscriber connections (1: one on every restaurant; N > 1: subscriber j on\n"
	      "                        restaurant j mod K only, the first K check seq, every delivery is timed)\n"
	      "  --rate R              total events/s; 0 = as fast as possible (0)\n"
	      "  --window W            max events per publisher unanswered or, accepted, unconfirmed (64)\n"
	      "  --duration S          seconds of sending (10)\n"
	      "  --count N             stop after N events in total (no limit)\n"
	      "  --warmup S            seconds excluded from throughput and latency (0)\n"
	      "  --drain-timeout S     seconds to wait for answers after sending (15)\n"
	      "  --connect-timeout S   seconds to connect and subscribe (10)\n"
	      "  --secret-file F       mint HS256 tokens with this secret (the hub's key file)\n"
	      "  --pub-role R          role of minted publisher tokens (staff)\n"
	      "  --token T             publisher token (repeatable; publisher i uses token i mod n)\n"
	      "  --sub-token T         subscriber token (restaurant_owner or platform_owner)\n"
	      "  --timeline FILE       per-second counts: second sent accepted confirmed rejected\n"
	      "  --samples FILE        one line per measured event: send_s ack_ms confirmed_ms status\n"
	      "  --id-prefix P         client id prefix (bench-<pid>)\n"
	      "  --mqtt-version V      5 or 311 (5)\n"
	      "  --qos Q               QoS of submissions and subscriptions (1)\n"
	      "  --quiet               only the JSON line on stdout\n", out);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option long_options[] = {
		{"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'p'},
		{"sub-port", required_argument, NULL, 'P'},
		{"urls", required_argument, NULL, 'U'},
		{"storm", no_argument, NULL, 'Z'},
		{"resume-after", required_argument, NULL, 'A'},
		{"behind", required_argument, NULL, 'B'},
		{"sub-role", required_argument, NULL, 'l'},
		{"restaurant", required_argument, NULL, 'r'},
		{"restaurants", required_argument, NULL, 'K'},
		{"raw", no_argument, NULL, 'X'},
		{"hold", no_argument, NULL, 'O'},
		{"publishers", required_argument, NULL, 'n'},
		{"subscribers", required_argument, NULL, 'u'},
		{"rate", required_argument, NULL, 'R'},
		{"window", required_argument, NULL, 'w'},
		{"duration", required_argument, NULL, 'd'},
		{"count", required_argument, NULL, 'c'},
		{"warmup", required_argument, NULL, 'W'},
		{"drain-timeout", required_argument, NULL, 'D'},
		{"connect-timeout", required_argument, NULL, 'C'},
		{"secret-file", required_argument, NULL, 'f'},
		{"pub-role", required_argument, NULL, 'o'},
		{"token", required_argument, NULL, 't'},
		{"sub-token", required_argument, NULL, 's'},
		{"timeline", required_argument, NULL, 'T'},
		{"samples", required_argument, NULL, 'S'},
		{"id-prefix", required_argument, NULL, 'i'},
		{"mqtt-version", required_argument, NULL, 'V'},
		{"qos", required_argument, NULL, 'q'},
		{"quiet", no_argument, NULL, 'Q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int flag;

	while ((flag = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (flag) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = (int)parse_int("--port", optarg, 1, 65535); break;
		case 'P': o->sub_port = (int)parse_int("--sub-port", optarg, 1, 65535); break;
		case 'U': o->urls = optarg; break;
		case 'Z': o->storm = true; break;
		case 'A': o->resume_after = parse_int("--resume-after", optarg, 0, LLONG_MAX / 4); break;
		case 'B': o->behind = parse_int("--behind", optarg, 1, 100000000); break;
		case 'l': o->sub_role = optarg; break;
		case 'r': o->restaurant = optarg; break;
		case 'K': o->restaurants = (int)parse_int("--restaurants", optarg, 1, MAX_STREAMS); break;
		case 'X': o->raw = true; break;
		case 'O': o->hold = true; break;
		case 'n': o->publishers = (int)parse_int("--publishers", optarg, 0, MAX_PUBLISHERS); break;
		case 'u': o->subscribers = (int)parse_int("--subscribers", optarg, 1, MAX_SUBSCRIBERS); break;
		case 'R': o->rate = parse_double("--rate", optarg, 0, 1e7); break;
		case 'w': o->window = (int)parse_int("--window", optarg, 1, 65535); break;
		case 'd': o->duration_s = parse_double("--duration", optarg, 0.1, 86400); break;
		case 'c': o->count = parse_int("--count", optarg, 1, 100000000); break;
		case 'W': o->warmup_s = parse_double("--warmup", optarg, 0, 86400); break;
		case 'D': o->drain_timeout_s = parse_double("--drain-timeout", optarg, 0, 3600); break;
		case 'C': o->connect_timeout_s = parse_double("--connect-timeout", optarg, 0.1, 600); break;
		case 'f': o->secret_file = optarg; break;
		case 'o': o->pub_role = optarg; break;
		case 't':
			if (o->token_count == MAX_TOKENS)
				die("at most %d --token", MAX_TOKENS);
			o->tokens[o->token_count++] = optarg;
			break;
		case 's': o->sub_token = optarg; break;
		case 'T': o->timeline_file = optarg; break;
		case 'S': o->samples_file = optarg; break;
		case 'i': o->id_prefix = optarg; break;
		case 'V': o->mqtt_version = parse_mqtt_version(optarg); break;
		case 'q': o->qos = (int)parse_int("--qos", optarg, 0, 2); break;
		case 'Q': o->quiet = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
	if (!id_chars_ok(o->restaurant, 60) || strchr(o->restaurant, '.') || strcmp(o->restaurant, "platform") == 0)
		die("invalid restaurant id '%s'", o->restaurant);
	if (o->secret_file && (o->token_count || o->sub_token))
		die("give either --secret-file or --token/--sub-token, not both");
	if (!o->raw && !o->secret_file && (o->token_count == 0 || !o->sub_token))
		die("need --secret-file, or --token (for publishers) and --sub-token (for the subscriber)");
	if (o->warmup_s >= o->duration_s)
		die("--warmup must be shorter than --duration");
	if (o->id_prefix && !id_chars_ok(o->id_prefix, 48))
		die("invalid --id-prefix '%s' (characters [A-Za-z0-9._-], at most 48)", o->id_prefix);
	if (o->storm && (o->publishers != 0 || o->raw || o->hold || o->urls))
		die("--storm needs --publishers 0, and neither --raw, --hold nor --urls");
	if (o->urls && (o->raw || o->hold || o->sub_port))
		die("--urls goes with neither --raw, --hold nor --sub-port");
	if (!o->sub_role)
		o->sub_role = o->storm ? "staff" : "restaurant_owner";
}

/* ---- brokers (--urls) ---------------------------------------------------- */

struct url { char host[256]; int port; char text[320]; };
static struct url urls[MAX_URLS];
static int url_count;

/* mqtt://host:port,... (or the single --host/--port). */
static void parse_urls(const struct options *o)
{
	const char *p = o->urls;
	if (!p) {
		snprintf(urls[0].host, sizeof(urls[0].host), "%s", o->host);
		urls[0].port = o->port;
		snprintf(urls[0].text, sizeof(urls[0].text), "mqtt://%s:%d", o->host, o->port);
		url_count = 1;
		return;
	}
	while (*p) {
		size_t n = strcspn(p, ",");
		char item[300];
		const char *colon;
		struct url *u;
		if (url_count == MAX_URLS)
			die("at most %d --urls", MAX_URLS);
		if (n >= sizeof(item) || n <= 7 || strncmp(p, "mqtt://", 7) != 0)
			die("--urls: '%.*s' is not mqtt://host:port", (int)n, p);
		memcpy(item, p + 7, n - 7);
		item[n - 7] = '\0';
		colon = strrchr(item, ':');
		if (!colon || colon == item || (size_t)(colon - item) >= sizeof(u->host))
			die("--urls: '%.*s' is not mqtt://host:port", (int)n, p);
		u = &urls[url_count++];
		memcpy(u->host, item, (size_t)(colon - item));
		u->host[colon - item] = '\0';
		u->port = (int)parse_int("--urls port", colon + 1, 1, 65535);
		snprintf(u->text, sizeof(u->text), "mqtt://%s", item);
		p += n + (p[n] == ',');
	}
	if (url_count == 0)
		die("--urls is empty");
}

/* ---- time, randomness ---------------------------------------------------- */

static int urandom_fd = -1;
static unsigned char random_pool[16 * 1024];
static size_t random_left;

static void random_bytes(unsigned char *out, size_t n)
{
	while (n > 0) {
		size_t take;
		if (random_left == 0) {
			size_t got = 0;
			while (got < sizeof(random_pool)) {
				ssize_t r = read(urandom_fd, random_pool + got, sizeof(random_pool) - got);
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0)
					die("reading /dev/urandom: %s", r < 0 ? strerror(errno) : "end of file");
				got += (size_t)r;
			}
			random_left = sizeof(random_pool);
		}
		take = n < random_left ? n : random_left;
		memcpy(out, random_pool + sizeof(random_pool) - random_left, take);
		random_left -= take;
		out += take;
		n -= take;
	}
}

static void uuid_text(const unsigned char key[16], char text[37])
{
	static const char hex[] = "0123456789abcdef";
	char *t = text;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*t++ = '-';
		*t++ = hex[key[i] >> 4];
		*t++ = hex[key[i] & 15];
	}
	*t = '\0';
}

/* A random (version 4) UUID: 16 bytes and its canonical text. */
static void new_uuid(unsigned char key[16], char text[37])
{
	random_bytes(key, 16);
	key[6] = (unsigned char)((key[6] & 0x0f) | 0x40);
	key[8] = (unsigned char)((key[8] & 0x3f) | 0x80);
	uuid_text(key, text);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static bool parse_uuid(const char *text, unsigned char key[16])
{
	int k = 0;
	if (!text || strlen(text) != 36)
		return false;
	for (int i = 0; i < 36;) {
		int hi, lo;
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i++] != '-')
				return false;
			continue;
		}
		hi = hex_value(text[i]);
		lo = hex_value(text[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		key[k++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return k == 16;
}

/* ---- event records and the id index --------------------------------------- */

enum status { ST_PENDING, ST_ACCEPTED, ST_REJECTED, ST_UNAVAILABLE };

struct record {
	unsigned char key[16];
	int64_t sent_ns;
	int64_t ack_ns;          /* 0: no answer yet */
	int64_t confirmed_ns;    /* 0: not confirmed yet */
	long long ack_seq;
	long long confirmed_seq;
	int publisher;
	unsigned char status;
	unsigned char confirmations;
	unsigned char resubmits;   /* --urls: sent again after a reconnect */
};

static struct record *records;
static size_t record_count, record_cap;
static uint32_t *index_slots;   /* record index + 1; 0 = empty */
static size_t index_cap;        /* power of two */

static uint64_t key_hash(const unsigned char key[16])
{
	uint64_t h;
	memcpy(&h, key, sizeof(h));   /* random bytes: a fine hash already */
	return h ^ (h >> 29);
}

static void index_insert(uint32_t idx)
{
	size_t mask = index_cap - 1, i = key_hash(records[idx].key) & mask;
	while (index_slots[i])
		i = (i + 1) & mask;
	index_slots[i] = idx + 1;
}

static void index_grow(void)
{
	size_t cap = index_cap ? index_cap * 2 : 1 << 16;
	free(index_slots);
	index_slots = calloc(cap, sizeof(*index_slots));
	if (!index_slots)
		die("out of memory");
	index_cap = cap;
	for (size_t r = 0; r < record_count; r++)
		index_insert((uint32_t)r);
}

static struct record *record_find(const unsigned char key[16])
{
	size_t mask, i;
	if (!index_cap)
		return NULL;
	mask = index_cap - 1;
	for (i = key_hash(key) & mask; index_slots[i]; i = (i + 1) & mask) {
		struct record *r = &records[index_slots[i] - 1];
		if (memcmp(r->key, key, 16) == 0)
			return r;
	}
	return NULL;
}

static struct record *record_new(void)
{
	struct record *r;
	if (record_count == record_cap) {
		size_t cap = record_cap ? record_cap * 2 : 1 << 15;
		struct record *grown = realloc(records, cap * sizeof(*records));
		if (!grown || cap > UINT32_MAX - 1)
			die("out of memory");
		records = grown;
		record_cap = cap;
	}
	if ((record_count + 1) * 2 > index_cap)
		index_grow();
	r = &records[record_count];
	memset(r, 0, sizeof(*r));
	return r;
}

/* The record made by record_new becomes findable once its key is set. */
static void record_commit(void)
{
	index_insert((uint32_t)record_count);
	record_count++;
}

/* ---- connections ----------------------------------------------------------- */

enum conn_kind { CONN_PUBLISHER, CONN_SUBSCRIBER };

struct conn {
	struct mosquitto *mosq;
	enum conn_kind kind;
	int number;
	char client_id[CLIENT_ID_MAX];
	char sub[129];
	char *token;
	char ack_topic[TOPIC_MAX];
	bool connected;
	bool subscribed;
	int connack_rc;
	int stream;              /* publisher: index in streams */
	int subacks_wanted;      /* SUBACKs still due before it counts as subscribed */
	int outstanding;         /* publisher: sent, not answered */
	long long sent;
	long long accepted;
	/* --urls: the broker it is on or tries, and when it tries the next. */
	int url;
	int reconnects;
	int64_t reconnect_at;    /* 0: none due */
	bool ever_connected;
	/* Subscribers' ctl/resume (--storm, --urls). */
	char client_prefix[TOPIC_MAX];   /* fynlo/v1/client/{cid}/ */
	int64_t resume_at;       /* a (re)try due at this moment; 0: none */
	int resumes_pending;     /* streams whose replay.done is due */
	bool gap_since_resume;   /* --urls: an event came ahead of a gap meanwhile */
	/* --storm: this subscriber's replay. */
	long long next_seq;      /* the seq it must get next */
	long long head;          /* replay.done's */
	int64_t resume_sent_ns, done_ns;
	int busy;                /* busy (or unavailable) answers, each retried */
	bool caught_up;
	int watched_fd;          /* the socket in epoll_fd, or -1 */
	uint32_t watched_events;
};

struct counters {
	long long sent;
	long long accepted;
	long long rejected;              /* every rejected answer, unavailable included */
	long long rejected_by_code[6];   /* invalid forbidden conflict too_large unavailable other */
	long long duplicate_acks;
	long long unknown_acks;
	long long bad_acks;
	long long confirmed;             /* distinct accepted events seen by the subscriber */
	long long duplicate_confirms;
	long long foreign_confirms;      /* events on the stream this run did not send */
	long long bad_confirms;
	long long seq_mismatch;          /* confirmed seq differs from the ack's */
	long long out_of_order;          /* seq not greater than the previous one */
	long long window_stalls;
	/* --urls */
	long long redelivered;           /* seqs a subscriber already had (dropped) */
	long long ahead_of_gap;          /* events after a gap, dropped and resumed */
	long long resubmitted;           /* events a publisher sent again after a reconnect */
	long long late_acks;             /* answers to a resubmitted event already answered */
	long long resume_requests;
	long long resume_errors;         /* answers other than busy/unavailable */
	/* --storm */
	long long storm_events;          /* replayed events in order */
	long long storm_wrong;           /* a seq other than the next one due */
	long long storm_after_done;      /* events after the client's replay.done */
	long long storm_live;            /* events without "replay": true */
	long long storm_bad_head;        /* replay.done with a head other than A+B */
	long long storm_short;           /* replay.done before all B events */
	long long storm_done;            /* subscribers caught up */
	long long storm_busy;            /* busy or unavailable answers (retried) */
};

static const char *const reject_codes[] = {"invalid", "forbidden", "conflict", "too_large", "unavailable", "other"};

static struct options opt = {
	.host = "127.0.0.1", .port = 1883, .restaurant = "r1", .restaurants = 1, .publishers = 8, .subscribers = 1, .rate = 0,
	.window = 64, .duration_s = 10, .count = 0, .warmup_s = 0, .drain_timeout_s = 15,
	.connect_timeout_s = 10, .pub_role = "staff", .mqtt_version = 5, .qos = 1, .behind = 100,
};
static struct conn *conns;      /* publishers first, then the subscribers */
static struct pollfd *poll_fds; /* one per connection */
/* With --subscribers N > 1: every delivery to a subscriber that does not
 * check seq (send time and latency, ns). */
struct delivery { int64_t sent_ns, latency_ns; };
static struct delivery *deliveries;
static size_t delivery_count, delivery_cap;
static long long foreign_deliveries;
static double connect_s, subscribe_s;
static int connected_count;             /* CONNACKs with success so far */
/* Below mosquitto 2.0.11's accept backlog, listen(sock, 100): past it the
 * kernel drops SYNs and each dropped one costs a 1 s retransmission. */
#define CONNECTS_PENDING 64   /* setup: all CONNACKs, then all SUBACKs */
static int conn_count;
static struct counters cnt;
/* One restaurant of the run: its id, submit topic and the seqs confirmed. */
struct stream {
	char id[65];
	char submit_topic[TOPIC_MAX];
	long long *seqs;         /* seq of every confirmed event, in arrival order */
	size_t seq_count, seq_cap;
	long long last_seq;
};
static struct stream streams[MAX_STREAMS];
static int stream_count;
static int64_t t0;              /* start of sending */
static bool setup_failed;
static volatile sig_atomic_t interrupted;

static void on_signal(int signum)
{
	(void)signum;
	interrupted = 1;
}

/* ---- MQTT callbacks ----------------------------------------------------------- */

static void subscribe_conn(struct conn *c);
static void resubmit_pending(struct conn *c);
static void check_rc(struct conn *c, int rc, const char *what);

/* A uniformly random delay in [from_ms, to_ms), in ns. */
static int64_t jitter_ns(int from_ms, int to_ms)
{
	unsigned char b[4];
	uint32_t v;
	random_bytes(b, sizeof(b));
	memcpy(&v, b, sizeof(v));
	return ((int64_t)from_ms + (int64_t)(v % (uint32_t)(to_ms - from_ms))) * NS_PER_MS;
}

/* --urls: the connection dropped or could not be made; the next broker of
 * the list is tried after a short random delay, so that a node's clients
 * do not all land on the next one in the same instant. */
static void connection_failed(struct conn *c)
{
	if (c->reconnect_at || interrupted)
		return;
	c->connected = c->subscribed = false;
	c->resumes_pending = 0;
	c->url = (c->url + 1) % url_count;
	c->reconnect_at = now_ns() + jitter_ns(1, 200);
	c->reconnects++;
}

static void on_connect(struct mosquitto *mosq, void *userdata, int rc)
{
	struct conn *c = userdata;
	(void)mosq;
	c->connack_rc = rc;
	if (rc == 0) {
		c->connected = true;
		if (!c->ever_connected) {
			c->ever_connected = true;
			connected_count++;
		}
		/* The first subscriptions of a run are made once every client is
		 * connected (connect_all); a storm's client and a reconnected one
		 * subscribe at once. */
		if (opt.storm || c->reconnects > 0)
			subscribe_conn(c);
	} else {
		fprintf(stderr, "fynsync-bench: %s refused: %s (%d)\n", c->client_id,
				mosquitto_connack_string(rc), rc);
		setup_failed = true;
	}
}

static void on_disconnect(struct mosquitto *mosq, void *userdata, int rc)
{
	struct conn *c = userdata;
	(void)mosq;
	if (opt.urls && rc != 0) {
		connection_failed(c);
		return;
	}
	if (c->connected && rc != 0) {
		fprintf(stderr, "fynsync-bench: %s lost its connection: %s\n", c->client_id,
				mosquitto_strerror(rc));
		setup_failed = true;
	}
	c->connected = false;
}

/* ctl/resume of the subscriber's streams after the last seq it holds
 * (--storm: its one stream, after --resume-after at first). */
static void send_resume(struct conn *c)
{
	char request[2048];
	size_t used = (size_t)snprintf(request, sizeof(request), "{\"streams\":{");
	int first = opt.subscribers > 1 || opt.storm ? c->stream : 0;
	int last = opt.subscribers > 1 || opt.storm ? c->stream + 1 : stream_count;

	for (int k = first; k < last; k++) {
		long long after = opt.storm ? c->next_seq - 1 : streams[k].last_seq;
		int n = snprintf(request + used, sizeof(request) - used, "%s\"%s\":%lld", k > first ? "," : "",
				streams[k].id, after);
		if (n < 0 || (size_t)n >= sizeof(request) - used)
			die("a resume request does not fit");
		used += (size_t)n;
	}
	if (used + 3 > sizeof(request))
		die("a resume request does not fit");
	memcpy(request + used, "}}", 3);
	c->resume_at = 0;
	c->resumes_pending = last - first;
	c->gap_since_resume = false;
	if (!c->resume_sent_ns)
		c->resume_sent_ns = now_ns();
	cnt.resume_requests++;
	check_rc(c, mosquitto_publish(c->mosq, NULL, "fynlo/v1/ctl/resume", (int)(used + 2), request, 1, false),
			"publish");
}

static void on_subscribe(struct mosquitto *mosq, void *userdata, int mid, int qos_count,
		const int *granted)
{
	struct conn *c = userdata;
	(void)mosq;
	(void)mid;
	for (int i = 0; i < qos_count; i++) {
		if (granted[i] < 0 || granted[i] > 2) {
			fprintf(stderr, "fynsync-bench: %s: subscription refused (code 0x%02x); check the token's role and the ACL\n",
					c->client_id, (unsigned)granted[i]);
			setup_failed = true;
			return;
		}
	}
	if (--c->subacks_wanted > 0)
		return;
	c->subscribed = true;
	if (opt.storm) {
		send_resume(c);
	} else if (c->reconnects > 0) {
		/* Back on a broker: what the previous one may have lost is
		 * asked again (the hub is idempotent by event id). */
		if (c->kind == CONN_PUBLISHER)
			resubmit_pending(c);
		else
			send_resume(c);
	}
}

/* ---- reading the hub's answers and events --------------------------------- */

/* The fields of the message last read (json_fields.h: tokens, not a
 * jansson tree, which was a fifth of the generator's CPU). */
static struct json_fields *fields;

/* Reads message m: true when its payload is one JSON object. */
static bool read_fields(const struct mosquitto_message *m)
{
	return json_fields_read(fields, m->payload, (size_t)m->payloadlen);
}

static bool string_field(const char *key, char *out, size_t size)
{
	return json_fields_string(fields, key, out, size);
}

/* key's value when a non-negative integer, else -1. */
static long long int_field(const char *key)
{
	long long v;
	return json_fields_int(fields, key, &v) && v >= 0 ? v : -1;
}

static bool true_field(const char *key)
{
	return json_fields_true(fields, key);
}

/* The event id of the message read, as a key. */
static bool id_field(unsigned char key[16])
{
	char text[40];
	return string_field("id", text, sizeof(text)) && parse_uuid(text, key);
}

static int reject_code_index(const char *code)
{
	for (int i = 0; i < 5; i++) {
		if (code && strcmp(code, reject_codes[i]) == 0)
			return i;
	}
	return 5;
}

static void handle_ack(struct conn *c, const struct mosquitto_message *m, int64_t now)
{
	char status[16];
	unsigned char key[16];
	struct record *r;

	if (!read_fields(m) || !string_field("status", status, sizeof(status))) {
		cnt.bad_acks++;
		return;
	}
	if (!id_field(key) || !(r = record_find(key)) || r->publisher != c->number) {
		cnt.unknown_acks++;
		return;
	}
	if (r->ack_ns) {
		/* A resubmitted event may be answered twice: by the broker that
		 * had it before the connection dropped, and by the next one. */
		if (r->resubmits)
			cnt.late_acks++;
		else
			cnt.duplicate_acks++;
		return;
	}
	r->ack_ns = now;
	/* An accepted event leaves the window once it is confirmed too. */
	if (strcmp(status, "accepted") != 0 || r->confirmed_ns)
		c->outstanding--;
	if (strcmp(status, "accepted") == 0) {
		r->status = ST_ACCEPTED;
		r->ack_seq = int_field("seq");
		cnt.accepted++;
		c->accepted++;
	} else {
		char code[32];
		int code_index = reject_code_index(string_field("code", code, sizeof(code)) ? code : NULL);
		r->status = code_index == 4 ? ST_UNAVAILABLE : ST_REJECTED;
		cnt.rejected++;
		cnt.rejected_by_code[code_index]++;
	}
}

static void note_seq(struct stream *st, long long seq)
{
	if (st->seq_count == st->seq_cap) {
		size_t cap = st->seq_cap ? st->seq_cap * 2 : 1 << 15;
		long long *grown = realloc(st->seqs, cap * sizeof(*st->seqs));
		if (!grown)
			die("out of memory");
		st->seqs = grown;
		st->seq_cap = cap;
	}
	st->seqs[st->seq_count++] = seq;
	if (st->last_seq >= 0 && seq <= st->last_seq)
		cnt.out_of_order++;
	st->last_seq = seq;
}

static struct stream *stream_named(const char *id)
{
	for (int i = 0; id && i < stream_count; i++) {
		if (strcmp(streams[i].id, id) == 0)
			return &streams[i];
	}
	return NULL;
}

/* --raw: the subscriber got a message; it answers the event. */
static void handle_raw(const struct mosquitto_message *m, int64_t now)
{
	unsigned char key[16];
	struct record *r;

	if (!read_fields(m) || !id_field(key) || !(r = record_find(key))) {
		cnt.foreign_confirms++;
	} else if (r->confirmations++ > 0) {
		cnt.duplicate_confirms++;
	} else {
		r->ack_ns = r->confirmed_ns = now;
		r->status = ST_ACCEPTED;
		cnt.accepted++;
		cnt.confirmed++;
		conns[r->publisher].outstanding--;
		conns[r->publisher].accepted++;
	}
}

/* --urls: the subscriber saw an event past a gap (lost with a broker, or
 * live on the new one before its replay ended): it resumes from the last
 * seq it holds once the resume under way, if any, is done. */
static void note_gap(struct conn *c, int64_t now)
{
	cnt.ahead_of_gap++;
	if (c->resumes_pending > 0)
		c->gap_since_resume = true;
	else if (!c->resume_at)
		c->resume_at = now;
}

static void handle_confirmed(struct conn *c, const struct mosquitto_message *m, int64_t now)
{
	long long seq = read_fields(m) ? int_field("seq") : -1;
	char restaurant[128];
	unsigned char key[16];
	struct record *r;
	struct stream *st;

	if (seq < 0) {
		cnt.bad_confirms++;
		return;
	}
	/* Without --urls nothing is resumed, so a replayed copy is no one's. */
	if (!opt.urls && true_field("replay"))
		return;
	st = string_field("restaurant", restaurant, sizeof(restaurant)) ? stream_named(restaurant) : NULL;
	if (st && opt.urls) {
		/* As a client does: a seq it has is dropped, one past a gap waits
		 * for the resume that fills the gap. */
		if (seq <= st->last_seq || seq > st->last_seq + 1) {
			if (seq <= st->last_seq)
				cnt.redelivered++;
			else
				note_gap(c, now);
			return;
		}
	}
	if (st)
		note_seq(st, seq);
	if (!st || !id_field(key) || !(r = record_find(key))) {
		cnt.foreign_confirms++;
	} else if (r->confirmations++ > 0) {
		cnt.duplicate_confirms++;
	} else {
		r->confirmed_ns = now;
		r->confirmed_seq = seq;
		cnt.confirmed++;
		if (r->ack_ns)
			conns[r->publisher].outstanding--;
	}
}

static void append_delivery(int64_t sent_ns, int64_t latency_ns)
{
	if (delivery_count == delivery_cap) {
		size_t cap = delivery_cap ? delivery_cap * 2 : 65536;
		struct delivery *grown = realloc(deliveries, cap * sizeof(*grown));
		if (!grown)
			die("out of memory");
		deliveries = grown;
		delivery_cap = cap;
	}
	deliveries[delivery_count++] = (struct delivery){sent_ns, latency_ns};
}

/* --subscribers N > 1: a subscriber beyond the first of its restaurant got
 * an event; its delivery is timed from the submission (--hold: from the
 * event's created_at, written by the other process's publisher). */
static void handle_fanout(const struct mosquitto_message *m, int64_t now)
{
	unsigned char key[16];
	struct record *r;

	if (!read_fields(m) || true_field("replay"))
		return;
	if (opt.hold) {
		char created_at[64];
		struct timespec wall;
		long long created_ms;
		if (!string_field("created_at", created_at, sizeof(created_at))
				|| fyn_timestamp_parse_ms(created_at, &created_ms) != 0) {
			foreign_deliveries++;
		} else {
			clock_gettime(CLOCK_REALTIME, &wall);
			int64_t latency = (int64_t)wall.tv_sec * NS_PER_S + wall.tv_nsec - (int64_t)created_ms * NS_PER_MS;
			append_delivery(now - latency, latency);
		}
	} else if (!id_field(key) || !(r = record_find(key))) {
		foreign_deliveries++;
	} else {
		append_delivery(r->sent_ns, now - r->sent_ns);
	}
}

/* --storm: one event of the subscriber's replay: it must be the next seq
 * due, of its own restaurant, replayed, before its replay.done. */
static void storm_event(struct conn *c, const struct mosquitto_message *m)
{
	const char *rid = streams[c->stream].id;
	size_t rlen = strlen(rid);
	long long seq = read_fields(m) ? int_field("seq") : -1;

	if (seq < 0) {
		cnt.bad_confirms++;
	} else if (!true_field("replay")) {
		cnt.storm_live++;
	} else if (c->caught_up) {
		cnt.storm_after_done++;
	} else if (seq != c->next_seq || strncmp(m->topic + 12, rid, rlen) != 0 || m->topic[12 + rlen] != '/') {
		cnt.storm_wrong++;
	} else {
		c->next_seq++;
		cnt.storm_events++;
	}
}

/* fynlo/v1/client/{cid}/...: replay.done and errors of the subscriber's resumes. */
static void handle_client_message(struct conn *c, const struct mosquitto_message *m, int64_t now)
{
	const char *kind = m->topic + strlen(c->client_prefix);
	json_t *doc;

	if (strcmp(kind, "replay.done") != 0 && strcmp(kind, "error") != 0)
		return;   /* the retained session info */
	doc = json_loadb(m->payload, (size_t)m->payloadlen, 0, NULL);
	if (strcmp(kind, "replay.done") == 0) {
		json_t *head = json_object_get(doc, "head");
		if (c->resumes_pending > 0)
			c->resumes_pending--;
		if (opt.storm && c->caught_up) {
			cnt.storm_after_done++;
		} else if (opt.storm) {
			c->caught_up = true;
			c->done_ns = now;
			c->head = json_is_integer(head) ? json_integer_value(head) : -1;
			cnt.storm_done++;
			if (c->head != opt.resume_after + opt.behind)
				cnt.storm_bad_head++;
			if (c->next_seq != opt.resume_after + opt.behind + 1)
				cnt.storm_short++;
		} else if (c->resumes_pending == 0 && c->gap_since_resume) {
			c->resume_at = now;
		}
	} else {
		const char *code = json_string_value(json_object_get(doc, "code"));
		if (code && (strcmp(code, "busy") == 0 || strcmp(code, "unavailable") == 0)) {
			/* Retried after an exponential backoff with full jitter, as
			 * the JS client reconnects: [0, min(20 s, 250 ms * 2^n)). */
			int64_t cap_ms = 250LL << (c->busy < 7 ? c->busy : 7);
			cnt.storm_busy++;
			c->busy++;
			c->resumes_pending = 0;
			c->resume_at = now + jitter_ns(1, (int)(cap_ms < 20000 ? cap_ms : 20000));
		} else {
			cnt.resume_errors++;
			if (cnt.resume_errors == 1)
				fprintf(stderr, "fynsync-bench: %s: resume answered %.*s\n", c->client_id,
						m->payloadlen, (const char *)m->payload);
		}
	}
	json_decref(doc);
}

static void on_message(struct mosquitto *mosq, void *userdata, const struct mosquitto_message *m)
{
	struct conn *c = userdata;
	int64_t now = now_ns();
	(void)mosq;
	if (c->kind == CONN_PUBLISHER) {
		if (strcmp(m->topic, c->ack_topic) == 0)
			handle_ack(c, m, now);
	} else if ((opt.storm || opt.urls) && strncmp(m->topic, c->client_prefix, strlen(c->client_prefix)) == 0) {
		handle_client_message(c, m, now);
	} else if (opt.storm) {
		storm_event(c, m);
	} else if (opt.hold || c->number - opt.publishers >= (opt.subscribers > 1 ? stream_count : 1)) {
		handle_fanout(m, now);
	} else if (opt.raw) {
		handle_raw(m, now);
	} else {
		handle_confirmed(c, m, now);
	}
}

/* ---- the poll loop -------------------------------------------------------------- */

static void check_rc(struct conn *c, int rc, const char *what)
{
	/* --urls: a broker that went away is the case being measured. */
	if (opt.urls && rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
		connection_failed(c);
		return;
	}
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
		fprintf(stderr, "fynsync-bench: %s: %s failed: %s\n", c->client_id, what,
				rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		setup_failed = true;
	}
}

/* epoll, so that a pass over thousands of sockets costs what the ready ones
 * need, not a scan of all: ppoll made the load generator spend 85 µs of CPU
 * per replayed event in the storm, and 325-370 µs per event (for ten
 * deliveries) over fanout's 1,100 sockets. Level-triggered: a socket is
 * watched for writing only while libmosquitto has bytes queued. --urls
 * (reconnecting to the next broker) keeps the ppoll loop. */
static int epoll_fd = -1;

static void watch(struct conn *c)
{
	int fd = mosquitto_socket(c->mosq);
	uint32_t want = EPOLLIN | (mosquitto_want_write(c->mosq) ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.ptr = c };
	if (fd < 0 || (fd == c->watched_fd && want == c->watched_events))
		return;
	if (epoll_ctl(epoll_fd, fd == c->watched_fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	c->watched_fd = fd;
	c->watched_events = want;
}

/* epoll_pwait2 takes the wait in ns, as ppoll did: paced sends 0.5 ms apart
 * stay 0.5 ms apart instead of leaving in pairs at epoll_wait's 1 ms steps.
 * A kernel older than 5.11 has only epoll_wait. */
static int wait_for_ready(struct epoll_event *ready, int capacity, int64_t wait_ns)
{
	static bool no_pwait2;
	struct timespec ts = { .tv_sec = (time_t)(wait_ns / NS_PER_S), .tv_nsec = (long)(wait_ns % NS_PER_S) };
	if (!no_pwait2) {
		int n = epoll_pwait2(epoll_fd, ready, capacity, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		no_pwait2 = true;
	}
	return epoll_wait(epoll_fd, ready, capacity, (int)((wait_ns + NS_PER_MS - 1) / NS_PER_MS));
}

static void run_io_epoll(int64_t deadline)
{
	static struct epoll_event ready[1024];
	static int64_t next_misc;
	int64_t wait = deadline - now_ns();
	int n;

	if (wait < 0)
		wait = 0;
	n = wait_for_ready(ready, (int)(sizeof(ready) / sizeof(*ready)), wait);
	if (n < 0 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		struct conn *c = ready[i].data.ptr;
		if (ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			/* libmosquitto reads one packet per call: take what the socket
			 * holds, up to a bound so that every client gets its turn. */
			int pending = 1, rc = MOSQ_ERR_SUCCESS;
			for (int reads = 0; reads < 64 && pending > 0 && rc == MOSQ_ERR_SUCCESS; reads++) {
				rc = mosquitto_loop_read(c->mosq, 1);
				if (mosquitto_socket(c->mosq) < 0 || ioctl(mosquitto_socket(c->mosq), FIONREAD, &pending) != 0)
					pending = 0;
			}
			check_rc(c, rc, "read");
		}
		if (mosquitto_want_write(c->mosq))
			check_rc(c, mosquitto_loop_write(c->mosq, 1), "write");
		watch(c);
	}
	/* Retries due (every pass: a compare per client), keepalives (every 100 ms). */
	int64_t now = now_ns();
	bool misc = now >= next_misc;
	for (int i = 0; i < conn_count && conns[i].mosq; i++) {
		struct conn *c = &conns[i];
		bool due = c->resume_at && now >= c->resume_at && c->subscribed;
		if (due)
			send_resume(c);
		if (misc)
			check_rc(c, mosquitto_loop_misc(c->mosq), "keepalive");
		if (due || misc) {
			if (mosquitto_want_write(c->mosq))
				check_rc(c, mosquitto_loop_write(c->mosq, 1), "write");
			watch(c);
		}
	}
	if (misc)
		next_misc = now + MISC_INTERVAL_NS;
}

/* One poll over every socket, waiting at most until deadline (monotonic ns). */
static void run_io_poll(int64_t deadline)
{
	struct pollfd *fds = poll_fds;
	static int64_t next_misc;
	struct timespec ts;
	int64_t wait = deadline - now_ns();
	int n;

	if (wait < 0)
		wait = 0;
	for (int i = 0; i < conn_count; i++) {
		/* During setup the later connections do not exist yet. */
		fds[i].fd = conns[i].mosq ? mosquitto_socket(conns[i].mosq) : -1;
		fds[i].events = 0;
		if (fds[i].fd >= 0)
			fds[i].events = POLLIN | (mosquitto_want_write(conns[i].mosq) ? POLLOUT : 0);
		fds[i].revents = 0;
	}
	ts.tv_sec = (time_t)(wait / NS_PER_S);
	ts.tv_nsec = (long)(wait % NS_PER_S);
	n = ppoll(fds, (nfds_t)conn_count, &ts, NULL);
	if (n < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	for (int i = 0; n > 0 && i < conn_count; i++) {
		if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
			check_rc(&conns[i], mosquitto_loop_read(conns[i].mosq, 1), "read");
		if (fds[i].revents & POLLOUT)
			check_rc(&conns[i], mosquitto_loop_write(conns[i].mosq, 1), "write");
	}
	if (opt.urls) {
		int64_t now = now_ns();
		for (int i = 0; i < conn_count; i++) {
			struct conn *c = &conns[i];
			if (c->reconnect_at && now >= c->reconnect_at) {
				c->reconnect_at = 0;
				check_rc(c, mosquitto_connect_async(c->mosq, urls[c->url].host, urls[c->url].port, 30), "connect");
			}
			if (c->resume_at && now >= c->resume_at && c->subscribed)
				send_resume(c);
		}
	}
	if (now_ns() >= next_misc) {
		for (int i = 0; i < conn_count && conns[i].mosq; i++)
			check_rc(&conns[i], mosquitto_loop_misc(conns[i].mosq), "keepalive");
		next_misc = now_ns() + MISC_INTERVAL_NS;
	}
}

static void run_io(int64_t deadline)
{
	if (epoll_fd >= 0)
		run_io_epoll(deadline);
	else
		run_io_poll(deadline);
}


/* Publishes the event of record r (its id, a fresh created_at) for c. */
static void publish_event(struct conn *c, const struct record *r)
{
	char id[37], created_at[FYN_TIMESTAMP_MAX], payload[EVENT_MAX];
	int len;

	uuid_text(r->key, id);
	fyn_timestamp_now(created_at);
	len = snprintf(payload, sizeof(payload),
			"{\"id\":\"%s\",\"aggregate_id\":\"order-%s\",\"event_type\":\"order.created\","
			"\"payload\":{\"status\":\"open\",\"total\":1250,\"items\":[{\"item_id\":\"burger\","
			"\"qty\":1,\"price\":1250,\"cost\":410}]},\"metadata\":{\"device\":\"%s\"},"
			"\"created_at\":\"%s\"}", id, id, c->client_id, created_at);
	check_rc(c, mosquitto_publish(c->mosq, NULL, streams[c->stream].submit_topic, len, payload, opt.qos, false),
			"publish");
	if (epoll_fd >= 0)
		watch(c);   /* what the publish could not write waits for EPOLLOUT */
}

static void send_event(struct conn *c)
{
	struct record *r = record_new();
	char id[37];

	new_uuid(r->key, id);
	r->publisher = c->number;
	r->status = ST_PENDING;
	record_commit();
	r->sent_ns = now_ns();
	publish_event(c, r);
	c->outstanding++;
	c->sent++;
	cnt.sent++;
}

/* --urls, on the next broker: every event of c not answered yet goes again
 * with its id (the hub answers a known id with its original outcome). */
static void resubmit_pending(struct conn *c)
{
	for (size_t i = 0; i < record_count; i++) {
		struct record *r = &records[i];
		if (r->publisher == c->number && !r->ack_ns) {
			r->resubmits++;
			cnt.resubmitted++;
			publish_event(c, r);
		}
	}
}

/* The view a subscriber's role receives (as the shipped ACL file has it). */
static const char *sub_view(void)
{
	static const char *const redacted[] = {"staff", "manager", "kitchen"};
	for (size_t i = 0; i < sizeof(redacted) / sizeof(*redacted); i++) {
		if (strcmp(opt.sub_role, redacted[i]) == 0)
			return "redacted";
	}
	return "full";
}

/* c's subscriptions; on_subscribe counts their SUBACKs down. */
static void subscribe_conn(struct conn *c)
{
	char ev_topic[TOPIC_MAX];
	bool one_stream = opt.subscribers > 1 || opt.storm;
	/* Subscribers that resume read their replay.done and errors. */
	bool resumes = c->kind == CONN_SUBSCRIBER && (opt.storm || opt.urls);

	c->subacks_wanted = (c->kind == CONN_SUBSCRIBER && !opt.raw && !one_stream ? stream_count : 1) + (resumes ? 1 : 0);
	if (resumes) {
		char client_topic[TOPIC_MAX + 2];
		snprintf(client_topic, sizeof(client_topic), "%s#", c->client_prefix);
		check_rc(c, mosquitto_subscribe(c->mosq, NULL, client_topic, opt.qos), "subscribe");
	}
	if (c->kind == CONN_PUBLISHER && opt.raw) {
		c->subscribed = true;
	} else if (c->kind == CONN_PUBLISHER) {
		check_rc(c, mosquitto_subscribe(c->mosq, NULL, c->ack_topic, opt.qos), "subscribe");
	} else if (opt.raw) {
		if (one_stream)
			snprintf(ev_topic, sizeof(ev_topic), "bench/%.64s/#", streams[c->stream].id);
		else
			snprintf(ev_topic, sizeof(ev_topic), "bench/#");
		check_rc(c, mosquitto_subscribe(c->mosq, NULL, ev_topic, opt.qos), "subscribe");
	} else if (one_stream) {
		snprintf(ev_topic, sizeof(ev_topic), "fynlo/v1/ev/%.64s/%s/#", streams[c->stream].id, sub_view());
		check_rc(c, mosquitto_subscribe(c->mosq, NULL, ev_topic, opt.qos), "subscribe");
	} else {
		/* One SUBSCRIBE per stream; granted once all are (on_subscribe per SUBACK). */
		for (int k = 0; k < stream_count; k++) {
			snprintf(ev_topic, sizeof(ev_topic), "fynlo/v1/ev/%.64s/%s/#", streams[k].id, sub_view());
			check_rc(c, mosquitto_subscribe(c->mosq, NULL, ev_topic, opt.qos), "subscribe");
		}
	}
}

static int64_t connect_started;

static void connect_all(int64_t deadline)
{
	connect_started = now_ns();
	for (int i = 0; i < conn_count; i++) {
		struct conn *c = &conns[i];
		const struct url *u;
		int rc;
		c->mosq = mosquitto_new(c->client_id, true, c);
		if (!c->mosq)
			die("mosquitto_new: %s", strerror(errno));
		mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
				opt.mqtt_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
		mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
		/* The window bounds what is in flight; a lower receive maximum from the broker wins. */
		mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, 65535);
		mosquitto_connect_callback_set(c->mosq, on_connect);
		mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
		mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
		mosquitto_message_callback_set(c->mosq, on_message);
		if (!opt.raw && mosquitto_username_pw_set(c->mosq, c->sub, c->token) != MOSQ_ERR_SUCCESS)
			die("cannot set credentials");
		/* Non-blocking, at most CONNECTS_PENDING unanswered at a time: a
		 * blocking connect would stall the whole loop for a second each time
		 * the broker's accept backlog is full and the kernel drops a SYN. */
		while (i - connected_count >= CONNECTS_PENDING && !setup_failed && !interrupted) {
			if (now_ns() > deadline)
				die("not every connection was accepted within the connect timeout");
			run_io(now_ns() + IDLE_POLL_NS);
		}
		u = &urls[c->url];
		rc = mosquitto_connect_async(c->mosq, u->host,
				c->kind == CONN_SUBSCRIBER && opt.sub_port ? opt.sub_port : u->port, 30);
		if (rc == MOSQ_ERR_SUCCESS && epoll_fd >= 0)
			watch(c);
		if (rc != MOSQ_ERR_SUCCESS && opt.urls)
			connection_failed(c);   /* the next URL, from the poll loop */
		else if (rc != MOSQ_ERR_SUCCESS)
			die("cannot connect to %s: %s", u->text, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	}
	for (;;) {
		bool all = connected_count == conn_count;
		if (all || setup_failed || interrupted)
			break;
		if (now_ns() > deadline)
			die("not every connection was accepted within the connect timeout");
		run_io(now_ns() + IDLE_POLL_NS);
	}
	if (setup_failed || interrupted)
		die("setup failed (see above)");
	connect_s = (double)(now_ns() - connect_started) / 1e9;
	if (opt.storm)
		return;   /* each subscribed and resumed as it connected */
	for (int i = 0; i < conn_count; i++) {
		subscribe_conn(&conns[i]);
		if (epoll_fd >= 0)
			watch(&conns[i]);   /* a SUBSCRIBE not written at once waits for EPOLLOUT */
	}
	for (;;) {
		bool all = true;
		for (int i = 0; i < conn_count; i++)
			all = all && conns[i].subscribed;
		if (all || setup_failed || interrupted)
			break;
		if (now_ns() > deadline)
			die("not every subscription was granted within the connect timeout");
		run_io(now_ns() + IDLE_POLL_NS);
	}
	if (setup_failed || interrupted)
		die("setup failed (see above)");
}

static void setup_connections(void)
{
	unsigned char *key = NULL;
	size_t key_len = 0;
	long ttl = (long)(opt.duration_s + opt.drain_timeout_s + opt.connect_timeout_s) + 3600;
	char prefix[49];   /* client ids: prefix + "-p<n>" or "-sub", at most 64 characters */

	if (opt.id_prefix)
		snprintf(prefix, sizeof(prefix), "%s", opt.id_prefix);
	else
		snprintf(prefix, sizeof(prefix), "bench-%d", (int)getpid());
	static char all_ids[MAX_STREAMS * 66];
	size_t used = 0;

	stream_count = opt.restaurants;
	for (int k = 0; k < stream_count; k++) {
		struct stream *st = &streams[k];
		if (stream_count == 1)
			snprintf(st->id, sizeof(st->id), "%s", opt.restaurant);
		else
			snprintf(st->id, sizeof(st->id), "%s-%d", opt.restaurant, k);
		snprintf(st->submit_topic, sizeof(st->submit_topic), opt.raw ? "bench/%.64s/order/created"
				: "fynlo/v1/in/%.64s/order/created", st->id);
		/* --urls: a fresh stream (seq from 1), so a gap at its start shows. */
		st->last_seq = opt.urls ? 0 : -1;
		int written = snprintf(all_ids + used, sizeof(all_ids) - used, "%s%s", k > 0 ? "," : "", st->id);
		if (written < 0 || (size_t)written >= sizeof(all_ids) - used)
			die("the subscriber's list of restaurants does not fit");
		used += (size_t)written;
	}
	if ((opt.publishers == 0) != (opt.hold || opt.storm))
		die("--hold and --storm need --publishers 0, and only they allow it");
	if (opt.subscribers > 1 && opt.subscribers < stream_count)
		die("--subscribers N > 1 needs at least one subscriber per restaurant (%d)", stream_count);
	/* Every subscriber checks seq, so every one resumes what it missed
	 * (at most max_client_requests streams, 8 by default, per request). */
	if (opt.urls && !(opt.subscribers == 1 ? stream_count <= 8 : opt.subscribers == stream_count))
		die("--urls needs --subscribers 1 over at most 8 restaurants, or one subscriber per restaurant");
	parse_urls(&opt);
	if (!opt.urls && (epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	conn_count = opt.publishers + opt.subscribers;
	conns = calloc((size_t)conn_count, sizeof(*conns));
	poll_fds = calloc((size_t)conn_count, sizeof(*poll_fds));
	if (!conns || !poll_fds)
		die("out of memory");
	if (opt.secret_file && !opt.raw)
		key = read_file(opt.secret_file, &key_len);
	for (int i = 0; i < conn_count; i++) {
		struct conn *c = &conns[i];
		c->kind = i < opt.publishers ? CONN_PUBLISHER : CONN_SUBSCRIBER;
		c->number = i;
		c->stream = (c->kind == CONN_PUBLISHER ? i : i - opt.publishers) % stream_count;
		if (c->kind == CONN_PUBLISHER)
			snprintf(c->client_id, sizeof(c->client_id), "%s-p%d", prefix, i);
		else if (i == opt.publishers)
			snprintf(c->client_id, sizeof(c->client_id), "%s-sub", prefix);
		else
			snprintf(c->client_id, sizeof(c->client_id), "%s-sub%d", prefix, i - opt.publishers);
		snprintf(c->ack_topic, sizeof(c->ack_topic), "fynlo/v1/client/%s/ack", c->client_id);
		snprintf(c->client_prefix, sizeof(c->client_prefix), "fynlo/v1/client/%s/", c->client_id);
		c->next_seq = opt.resume_after + 1;
		c->watched_fd = -1;
		if (opt.raw) {
			c->token = NULL;
		} else if (key) {
			snprintf(c->sub, sizeof(c->sub), "%s", c->client_id);
			c->token = mint_token(key, key_len, c->sub,
					c->kind == CONN_PUBLISHER ? opt.pub_role : opt.sub_role,
					c->kind == CONN_PUBLISHER || opt.subscribers > 1 ? streams[c->stream].id : all_ids, ttl);
		} else {
			c->token = strdup(c->kind == CONN_PUBLISHER ? opt.tokens[i % opt.token_count] : opt.sub_token);
			if (!c->token)
				die("out of memory");
			token_sub(c->token, c->sub, sizeof(c->sub));
		}
	}
	free(key);
	int64_t started = now_ns();
	connect_all(started + (int64_t)(opt.connect_timeout_s * NS_PER_S));
	subscribe_s = (double)(now_ns() - started) / 1e9;
}

static bool count_reached(void)
{
	return opt.count > 0 && cnt.sent >= opt.count;
}

/* Sends what is due; returns the next moment something is due (rate mode)
 * or a short idle wait. */
static int64_t send_due(int64_t send_end, int64_t *next_k, int64_t *max_lag)
{
	int64_t now = now_ns();

	if (now >= send_end || count_reached() || interrupted || opt.publishers == 0)
		return now + IDLE_POLL_NS;
	if (opt.rate <= 0) {
		bool progress = true;
		while (progress && !count_reached()) {
			progress = false;
			for (int i = 0; i < opt.publishers && !count_reached(); i++) {
				if (conns[i].outstanding < opt.window && conns[i].subscribed) {
					send_event(&conns[i]);
					progress = true;
				}
			}
		}
		return now + IDLE_POLL_NS;
	}
	for (;;) {
		int64_t due = t0 + (int64_t)((double)*next_k * (double)NS_PER_S / opt.rate);
		struct conn *c = &conns[*next_k % opt.publishers];
		if (due > now || due >= send_end || count_reached())
			return due < send_end ? due : now + IDLE_POLL_NS;
		if (c->outstanding >= opt.window || !c->subscribed) {   /* --urls: not on a broker now */
			cnt.window_stalls++;
			return now + NS_PER_MS / 10;   /* wait for an answer */
		}
		send_event(c);
		if (now - due > *max_lag)
			*max_lag = now - due;
		(*next_k)++;
		now = now_ns();
	}
}

static bool all_answered(void)
{
	long long answered = cnt.accepted + cnt.rejected;
	return answered >= cnt.sent && cnt.confirmed >= cnt.accepted;
}

/* ---- results ---------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

struct dist {
	size_t n;
	double mean, p50, p90, p99, p999, max, min;
};

/* Nearest rank: the smallest value with at least p of the sample at or below it. */
static double rank_ms(const int64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)(p * (double)n);
	if ((double)rank < p * (double)n)
		rank++;
	if (rank == 0)
		rank = 1;
	return (double)sorted[rank - 1] / 1e6;
}

/* Percentiles of v (sorted in place), in milliseconds. */
static struct dist distribution(int64_t *v, size_t n)
{
	struct dist d = {0};
	double sum = 0;
	if (n == 0)
		return d;
	qsort(v, n, sizeof(*v), cmp_i64);
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	d.n = n;
	d.mean = sum / (double)n / 1e6;
	d.min = (double)v[0] / 1e6;
	d.p50 = rank_ms(v, n, 0.50);
	d.p90 = rank_ms(v, n, 0.90);
	d.p99 = rank_ms(v, n, 0.99);
	d.p999 = rank_ms(v, n, 0.999);
	d.max = (double)v[n - 1] / 1e6;
	return d;
}

static json_t *dist_json(const struct dist *d)
{
	return json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "n", (json_int_t)d->n, "min_ms", d->min,
			"mean_ms", d->mean, "p50_ms", d->p50, "p90_ms", d->p90, "p99_ms", d->p99,
			"p999_ms", d->p999, "max_ms", d->max);
}

struct seq_check {
	long long first, last, received, distinct, missing, duplicates;
};

static struct seq_check check_stream(const struct stream *st)
{
	struct seq_check s = {0};
	long long *sorted;
	if (st->seq_count == 0)
		return s;
	sorted = malloc(st->seq_count * sizeof(*sorted));
	if (!sorted)
		die("out of memory");
	memcpy(sorted, st->seqs, st->seq_count * sizeof(*sorted));
	qsort(sorted, st->seq_count, sizeof(*sorted), cmp_ll);
	s.first = sorted[0];
	s.last = sorted[st->seq_count - 1];
	s.received = (long long)st->seq_count;
	s.distinct = 1;
	for (size_t i = 1; i < st->seq_count; i++) {
		if (sorted[i] == sorted[i - 1])
			s.duplicates++;
		else
			s.distinct++;
	}
	s.missing = (s.last - s.first + 1) - s.distinct;
	free(sorted);
	return s;
}

/* Every stream's check, summed (first/last: the lowest first, highest last). */
static struct seq_check check_seqs(void)
{
	struct seq_check total = {0};
	bool any = false;
	for (int k = 0; k < stream_count; k++) {
		struct seq_check s = check_stream(&streams[k]);
		if (s.received == 0)
			continue;
		total.first = any && total.first < s.first ? total.first : s.first;
		total.last = any && total.last > s.last ? total.last : s.last;
		total.received += s.received;
		total.distinct += s.distinct;
		total.missing += s.missing;
		total.duplicates += s.duplicates;
		any = true;
	}
	return total;
}

static void write_timeline(int64_t end)
{
	size_t seconds = (size_t)((end - t0) / NS_PER_S) + 1;
	long long (*b)[4] = calloc(seconds, sizeof(*b));
	FILE *f = fopen(opt.timeline_file, "w");
	if (!f || !b)
		die("cannot write %s: %s", opt.timeline_file, f ? "out of memory" : strerror(errno));
	for (size_t i = 0; i < record_count; i++) {
		const struct record *r = &records[i];
		size_t s = (size_t)((r->sent_ns - t0) / NS_PER_S);
		if (s < seconds)
			b[s][0]++;
		if (r->ack_ns) {
			s = (size_t)((r->ack_ns - t0) / NS_PER_S);
			if (s < seconds)
				b[s][r->status == ST_ACCEPTED ? 1 : 3]++;
		}
		if (r->confirmed_ns) {
			s = (size_t)((r->confirmed_ns - t0) / NS_PER_S);
			if (s < seconds)
				b[s][2]++;
		}
	}
	fprintf(f, "# second sent accepted confirmed rejected\n");
	for (size_t s = 0; s < seconds; s++)
		fprintf(f, "%zu %lld %lld %lld %lld\n", s, b[s][0], b[s][1], b[s][2], b[s][3]);
	fclose(f);
	free(b);
}

static void write_samples(int64_t measure_from)
{
	FILE *f = fopen(opt.samples_file, "w");
	static const char *const names[] = {"pending", "accepted", "rejected", "unavailable"};
	if (!f)
		die("cannot write %s: %s", opt.samples_file, strerror(errno));
	fprintf(f, "# send_s ack_ms confirmed_ms status (-1: none)\n");
	for (size_t i = 0; i < record_count; i++) {
		const struct record *r = &records[i];
		if (r->sent_ns < measure_from)
			continue;
		fprintf(f, "%.6f %.3f %.3f %s\n", (double)(r->sent_ns - t0) / 1e9,
				r->ack_ns ? (double)(r->ack_ns - r->sent_ns) / 1e6 : -1.0,
				r->confirmed_ns ? (double)(r->confirmed_ns - r->sent_ns) / 1e6 : -1.0,
				names[r->status]);
	}
	fclose(f);
}

/* --subscribers N > 1: deliveries due to the subscribers that do not check
 * seq (every accepted event reaches each of its restaurant's but the first). */
static long long expected_deliveries(void)
{
	long long due = 0;
	if (opt.subscribers <= 1)
		return 0;
	for (size_t i = 0; i < record_count; i++) {
		int k = conns[records[i].publisher].stream;
		int on_stream = opt.subscribers / stream_count + (k < opt.subscribers % stream_count ? 1 : 0);
		if (records[i].status == ST_ACCEPTED)
			due += on_stream - 1;
	}
	return due;
}

static json_t *fanout_json(int64_t measure_from, long long due, json_t *problems)
{
	int64_t *lat = malloc((delivery_count + 1) * sizeof(*lat));
	size_t n = 0;
	struct dist d;
	if (!lat)
		die("out of memory");
	for (size_t i = 0; i < delivery_count; i++) {
		if (deliveries[i].sent_ns >= measure_from)
			lat[n++] = deliveries[i].latency_ns;
	}
	d = distribution(lat, n);
	free(lat);
	if (!opt.hold && (long long)delivery_count != due)
		json_array_append_new(problems, json_sprintf("%lld of %lld fan-out deliveries arrived",
				(long long)delivery_count, due));
	if (foreign_deliveries)
		json_array_append_new(problems, json_sprintf("%lld fan-out deliveries of unknown events", foreign_deliveries));
	return json_pack("{s:i,s:I,s:I,s:o}", "subscribers", opt.subscribers, "deliveries", (json_int_t)delivery_count,
			"expected", (json_int_t)due, "submit_to_delivered", dist_json(&d));
}

/* --urls: where the clients ended, and what moving cost. */
static json_t *failover_json(void)
{
	json_t *on = json_object();
	long long reconnects = 0;
	for (int u = 0; on && u < url_count; u++) {
		int n = 0;
		for (int i = 0; i < conn_count; i++)
			n += conns[i].connected && conns[i].url == u;
		json_object_set_new(on, urls[u].text, json_integer(n));
	}
	for (int i = 0; i < conn_count; i++)
		reconnects += conns[i].reconnects;
	return json_pack("{s:o,s:I,s:I,s:I,s:I,s:I,s:I}", "connected_at_end", on, "reconnects", (json_int_t)reconnects,
			"resubmitted", (json_int_t)cnt.resubmitted, "late_acks", (json_int_t)cnt.late_acks,
			"redelivered", (json_int_t)cnt.redelivered, "ahead_of_gap", (json_int_t)cnt.ahead_of_gap,
			"resume_requests", (json_int_t)cnt.resume_requests);
}

/* --storm: every subscriber caught up, with exactly its events in order? */
static int storm_report(int64_t all_done)
{
	int64_t *catch_up = malloc(((size_t)conn_count + 1) * sizeof(int64_t));
	int64_t *resume = malloc(((size_t)conn_count + 1) * sizeof(int64_t));
	size_t n = 0;
	long long behind_clients = 0, retried = 0;
	json_t *out, *problems = json_array();
	struct dist cu, rs;
	double total_s = (double)(all_done - connect_started) / 1e9;
	int rc;

	if (!catch_up || !resume || !problems)
		die("out of memory");
	for (int i = 0; i < conn_count; i++) {
		const struct conn *c = &conns[i];
		if (!c->caught_up) {
			behind_clients++;
			continue;
		}
		retried += c->busy > 0;
		catch_up[n] = c->done_ns - connect_started;
		resume[n++] = c->done_ns - c->resume_sent_ns;
	}
	{
		size_t m = n;   /* distribution() sorts in place */
		cu = distribution(catch_up, m);
		rs = distribution(resume, m);
	}
	if (behind_clients)
		json_array_append_new(problems, json_sprintf("%lld of %d clients not caught up within %.0f s",
				behind_clients, conn_count, opt.duration_s));
	if (cnt.storm_wrong)
		json_array_append_new(problems, json_sprintf("%lld replayed events out of order, duplicated or of another restaurant", cnt.storm_wrong));
	if (cnt.storm_short)
		json_array_append_new(problems, json_sprintf("%lld clients got replay.done before all %lld events", cnt.storm_short, opt.behind));
	if (cnt.storm_bad_head)
		json_array_append_new(problems, json_sprintf("%lld replay.done with a head other than %lld", cnt.storm_bad_head,
				opt.resume_after + opt.behind));
	if (cnt.storm_after_done)
		json_array_append_new(problems, json_sprintf("%lld events or replay.done after a client's replay.done", cnt.storm_after_done));
	if (cnt.bad_confirms)
		json_array_append_new(problems, json_sprintf("%lld unreadable events", cnt.bad_confirms));
	if (cnt.resume_errors)
		json_array_append_new(problems, json_sprintf("%lld resumes answered with an error", cnt.resume_errors));
	if (cnt.storm_events != (long long)conn_count * opt.behind)
		json_array_append_new(problems, json_sprintf("%lld replayed events in order, expected %lld", cnt.storm_events,
				(long long)conn_count * opt.behind));
	out = json_pack("{s:s,s:s,s:i,s:i,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:o,s:o,s:o}",
			"tool", "fynsync-bench", "mode", "storm", "subscribers", conn_count, "restaurants", stream_count,
			"resume_after", (json_int_t)opt.resume_after, "behind", (json_int_t)opt.behind,
			"expected_events", (json_int_t)((long long)conn_count * opt.behind),
			"events", (json_int_t)cnt.storm_events, "connect_s", connect_s, "all_caught_up_s", total_s,
			"events_per_s", total_s > 0 ? (double)cnt.storm_events / total_s : 0.0,
			"busy_answers", (json_int_t)cnt.storm_busy, "clients_retried", (json_int_t)retried,
			"resume_requests", (json_int_t)cnt.resume_requests, "live_events", (json_int_t)cnt.storm_live,
			"start_to_caught_up", dist_json(&cu), "resume_to_done", dist_json(&rs), "problems", problems);
	if (!out)
		die("cannot build the JSON report");
	rc = json_array_size(problems) ? 1 : 0;
	if (!opt.quiet) {
		printf("fynsync-bench: storm of %d clients over %d restaurants, each resuming after %lld, %lld behind\n",
				conn_count, stream_count, opt.resume_after, opt.behind);
		printf("  all connected      %.3f s after the first connect\n", connect_s);
		printf("  all caught up      %.3f s (%lld events, %.0f ev/s)\n", total_s, cnt.storm_events,
				total_s > 0 ? (double)cnt.storm_events / total_s : 0.0);
		printf("  busy answers       %lld (%lld clients retried), %lld resume requests\n", cnt.storm_busy, retried,
				cnt.resume_requests);
		printf("  latency (ms)         n        p50      p90      p99      max\n");
		printf("  start->caught up   %8zu %8.1f %8.1f %8.1f %8.1f\n", cu.n, cu.p50, cu.p90, cu.p99, cu.max);
		printf("  resume->done       %8zu %8.1f %8.1f %8.1f %8.1f\n", rs.n, rs.p50, rs.p90, rs.p99, rs.max);
		print_problems(problems);
	}
	print_report_line(out, 10);
	free(catch_up);
	free(resume);
	return rc;
}

static int report(int64_t send_end_actual, int64_t end, int64_t max_lag)
{
	int64_t measure_from = t0 + (int64_t)(opt.warmup_s * NS_PER_S);
	double window_s = (double)(send_end_actual - measure_from) / 1e9;
	int64_t *ack_lat = malloc((record_count + 1) * sizeof(*ack_lat));
	int64_t *conf_lat = malloc((record_count + 1) * sizeof(*conf_lat));
	size_t n_ack = 0, n_conf = 0;
	long long accepted_in_window = 0, confirmed_in_window = 0, sent_in_window = 0;
	long long unanswered = 0, unconfirmed = 0, pub_min = LLONG_MAX, pub_max = 0;
	struct dist ack_d, conf_d;
	struct seq_check sc = check_seqs();
	json_t *out, *problems = json_array(), *codes = json_object();
	int rc;

	if (!ack_lat || !conf_lat || !problems || !codes)
		die("out of memory");
	for (size_t i = 0; i < record_count; i++) {
		const struct record *r = &records[i];
		if (!r->ack_ns)
			unanswered++;
		if (r->status == ST_ACCEPTED && !r->confirmed_ns)
			unconfirmed++;
		if (r->status == ST_ACCEPTED && r->confirmed_ns && r->ack_seq != r->confirmed_seq)
			cnt.seq_mismatch++;
		if (r->ack_ns >= measure_from && r->ack_ns < send_end_actual && r->status == ST_ACCEPTED)
			accepted_in_window++;
		if (r->confirmed_ns >= measure_from && r->confirmed_ns < send_end_actual)
			confirmed_in_window++;
		if (r->sent_ns < measure_from)
			continue;
		sent_in_window++;
		if (r->ack_ns && r->status == ST_ACCEPTED)
			ack_lat[n_ack++] = r->ack_ns - r->sent_ns;
		if (r->confirmed_ns)
			conf_lat[n_conf++] = r->confirmed_ns - r->sent_ns;
	}
	for (int i = 0; i < opt.publishers; i++) {
		if (conns[i].accepted < pub_min) pub_min = conns[i].accepted;
		if (conns[i].accepted > pub_max) pub_max = conns[i].accepted;
	}
	ack_d = distribution(ack_lat, n_ack);
	conf_d = distribution(conf_lat, n_conf);
	if (opt.timeline_file)
		write_timeline(end);
	if (opt.samples_file)
		write_samples(measure_from);

	if (unanswered) json_array_append_new(problems, json_sprintf("%lld events got no answer", unanswered));
	if (unconfirmed) json_array_append_new(problems, json_sprintf("%lld accepted events were never confirmed", unconfirmed));
	if (sc.missing) json_array_append_new(problems, json_sprintf("%lld seq gaps between %lld and %lld", sc.missing, sc.first, sc.last));
	if (sc.duplicates) json_array_append_new(problems, json_sprintf("%lld duplicate seqs", sc.duplicates));
	if (cnt.out_of_order) json_array_append_new(problems, json_sprintf("%lld confirmed events out of seq order", cnt.out_of_order));
	if (cnt.seq_mismatch) json_array_append_new(problems, json_sprintf("%lld confirmed seqs differ from the ack's", cnt.seq_mismatch));
	if (cnt.duplicate_acks) json_array_append_new(problems, json_sprintf("%lld duplicate acks", cnt.duplicate_acks));
	if (cnt.duplicate_confirms) json_array_append_new(problems, json_sprintf("%lld duplicate confirmed events", cnt.duplicate_confirms));
	if (cnt.bad_acks || cnt.bad_confirms) json_array_append_new(problems, json_sprintf("%lld unreadable acks, %lld unreadable confirmed events", cnt.bad_acks, cnt.bad_confirms));
	if (cnt.resume_errors) json_array_append_new(problems, json_sprintf("%lld resumes answered with an error", cnt.resume_errors));
	for (int i = 0; i < 6; i++)
		json_object_set_new(codes, reject_codes[i], json_integer(cnt.rejected_by_code[i]));
	json_t *fanout = opt.subscribers > 1 || opt.hold ? fanout_json(measure_from, expected_deliveries(), problems) : NULL;

	out = json_pack("{s:s,s:s,s:i,s:s,s:i,s:f,s:i,s:f,s:f,s:i,"
			"s:I,s:I,s:I,s:I,s:o,s:I,s:I,"
			"s:f,s:f,s:f,s:I,s:I,s:f,"
			"s:o,s:o,"
			"s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
			"s:I,s:I,s:I,s:f,s:I,s:o}",
			"tool", "fynsync-bench", "host", opt.host, "port", opt.port, "restaurant", opt.restaurant,
			"publishers", opt.publishers, "target_rate", opt.rate, "window", opt.window,
			"duration_s", (double)(send_end_actual - t0) / 1e9, "warmup_s", opt.warmup_s, "qos", opt.qos,
			"sent", (json_int_t)cnt.sent, "accepted", (json_int_t)cnt.accepted,
			"rejected", (json_int_t)(cnt.rejected - cnt.rejected_by_code[4]),
			"unavailable", (json_int_t)cnt.rejected_by_code[4], "rejected_by_code", codes,
			"unanswered", (json_int_t)unanswered, "confirmed", (json_int_t)cnt.confirmed,
			"measured_s", window_s, "accepted_per_s", (double)accepted_in_window / window_s,
			"confirmed_per_s", (double)confirmed_in_window / window_s,
			"sent_in_window", (json_int_t)sent_in_window, "unconfirmed", (json_int_t)unconfirmed,
			"send_rate", (double)sent_in_window / window_s,
			"submit_to_ack", dist_json(&ack_d), "submit_to_confirmed", dist_json(&conf_d),
			"seq", "first", (json_int_t)sc.first, "last", (json_int_t)sc.last,
			"received", (json_int_t)sc.received, "distinct", (json_int_t)sc.distinct,
			"missing", (json_int_t)sc.missing, "duplicates", (json_int_t)sc.duplicates,
			"out_of_order", (json_int_t)cnt.out_of_order,
			"foreign_confirms", (json_int_t)cnt.foreign_confirms,
			"per_publisher_accepted_min", (json_int_t)(pub_min == LLONG_MAX ? 0 : pub_min),
			"per_publisher_accepted_max", (json_int_t)pub_max,
			"max_send_lag_ms", (double)max_lag / 1e6, "window_stalls", (json_int_t)cnt.window_stalls,
			"problems", problems);
	if (!out || json_object_set_new(out, "restaurants", json_integer(stream_count)) != 0
			|| json_object_set_new(out, "mode", json_string(opt.raw ? "raw" : "hub")) != 0
			|| json_object_set_new(out, "connections", json_integer(conn_count)) != 0
			|| json_object_set_new(out, "connect_s", json_real(connect_s)) != 0
			|| json_object_set_new(out, "connect_and_subscribe_s", json_real(subscribe_s)) != 0
			|| (fanout && json_object_set_new(out, "fanout", fanout) != 0)
			|| (opt.urls && json_object_set_new(out, "failover", failover_json()) != 0))
		die("cannot build the JSON report");
	rc = json_array_size(problems) ? 1 : 0;
	if (!opt.quiet) {
		printf("fynsync-bench: %d publishers -> %s%s:%d restaurant %s (x%d), %s, window %d, %.1f s (warmup %.1f s)\n",
				opt.publishers, opt.raw ? "plain mosquitto " : "", opt.host, opt.port, opt.restaurant, stream_count,
				opt.rate > 0 ? "paced" : "as fast as possible", opt.window,
				(double)(send_end_actual - t0) / 1e9, opt.warmup_s);
		if (opt.rate > 0)
			printf("  target rate        %.0f ev/s (sent %.1f ev/s, max send lag %.3f ms, window stalls %lld)\n",
					opt.rate, (double)sent_in_window / window_s, (double)max_lag / 1e6, cnt.window_stalls);
		printf("  sent               %lld\n", cnt.sent);
		printf("  accepted           %lld (%.1f ev/s sustained over %.1f s; per publisher %lld..%lld)\n",
				cnt.accepted, (double)accepted_in_window / window_s, window_s,
				pub_min == LLONG_MAX ? 0 : pub_min, pub_max);
		printf("  rejected           %lld (invalid %lld, forbidden %lld, conflict %lld, too_large %lld, other %lld)\n",
				cnt.rejected - cnt.rejected_by_code[4], cnt.rejected_by_code[0], cnt.rejected_by_code[1],
				cnt.rejected_by_code[2], cnt.rejected_by_code[3], cnt.rejected_by_code[5]);
		printf("  unavailable        %lld\n", cnt.rejected_by_code[4]);
		printf("  unanswered         %lld, accepted but unconfirmed %lld\n", unanswered, unconfirmed);
		printf("  latency (ms)         n        p50      p90      p99      p99.9    max\n");
		printf("  submit->ack        %8zu %8.3f %8.3f %8.3f %8.3f %8.3f\n", ack_d.n, ack_d.p50, ack_d.p90,
				ack_d.p99, ack_d.p999, ack_d.max);
		printf("  submit->confirmed  %8zu %8.3f %8.3f %8.3f %8.3f %8.3f\n", conf_d.n, conf_d.p50, conf_d.p90,
				conf_d.p99, conf_d.p999, conf_d.max);
		printf("  seq                %lld..%lld, %lld received, %lld missing, %lld duplicate, %lld out of order\n",
				sc.first, sc.last, sc.received, sc.missing, sc.duplicates, cnt.out_of_order);
		print_problems(problems);
	}
	print_report_line(out, 10);
	free(ack_lat);
	free(conf_lat);
	return rc;
}

/* --storm: the subscribers connected, subscribed and resumed as fast as
 * they could (connect_all); wait until every one has its replay.done. */
static int storm(void)
{
	int64_t deadline = connect_started + (int64_t)(opt.duration_s * NS_PER_S), all_done;

	while (!setup_failed && !interrupted && cnt.storm_done < conn_count && now_ns() < deadline)
		run_io(now_ns() + IDLE_POLL_NS);
	all_done = now_ns();
	/* Anything after a client's replay.done would be a hub bug; look briefly. */
	for (int64_t settle = now_ns() + 300 * NS_PER_MS; !setup_failed && !interrupted && now_ns() < settle;)
		run_io(settle);
	if (setup_failed)
		fprintf(stderr, "fynsync-bench: a connection failed during the storm; results are partial\n");
	return storm_report(all_done);
}

static void teardown(void)
{
	for (int i = 0; i < conn_count; i++) {
		mosquitto_disconnect(conns[i].mosq);
		mosquitto_loop_write(conns[i].mosq, 1);
		mosquitto_destroy(conns[i].mosq);
		free(conns[i].token);
	}
	mosquitto_lib_cleanup();
	json_fields_free(fields);
	free(conns);
	free(records);
	free(index_slots);
	for (int k = 0; k < stream_count; k++)
		free(streams[k].seqs);
	close(urandom_fd);
	if (epoll_fd >= 0)
		close(epoll_fd);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int64_t send_end, send_end_actual = 0, drain_end, next_k = 0, max_lag = 0, end;
	int rc;

	parse_options(argc, argv, &opt);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	urandom_fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (urandom_fd < 0)
		die("cannot open /dev/urandom: %s", strerror(errno));
	if (!(fields = json_fields_new()))
		die("out of memory");
	mosquitto_lib_init();
	setup_connections();
	if (opt.hold) {
		printf("fynsync-bench: holding %d connections\n", conn_count);
		fflush(stdout);
	}

	if (opt.storm) {
		rc = storm();
		teardown();
		return setup_failed ? 2 : rc;
	}
	t0 = now_ns();
	send_end = t0 + (int64_t)(opt.duration_s * NS_PER_S);
	/* Sending phase. */
	while (!setup_failed && !interrupted) {
		int64_t now = now_ns();
		int64_t wake;
		if (now >= send_end || count_reached())
			break;
		wake = send_due(send_end, &next_k, &max_lag);
		if (wake > send_end)
			wake = send_end;
		run_io(wake);
	}
	send_end_actual = now_ns();
	if (send_end_actual > send_end)
		send_end_actual = send_end;
	/* Drain: wait for the answers and confirmations still due. */
	drain_end = now_ns() + (int64_t)(opt.drain_timeout_s * NS_PER_S);
	for (int64_t next_resume = now_ns() + NS_PER_S;
			!setup_failed && !interrupted && !all_answered() && now_ns() < drain_end;) {
		run_io(now_ns() + IDLE_POLL_NS);
		/* --urls: events lost with a broker after the last one a subscriber
		 * got leave no gap it could see; it asks again once a second. */
		if (opt.urls && now_ns() >= next_resume) {
			for (int i = opt.publishers; i < conn_count; i++) {
				if (conns[i].subscribed && !conns[i].resumes_pending && !conns[i].resume_at)
					conns[i].resume_at = now_ns();
			}
			next_resume = now_ns() + NS_PER_S;
		}
	}
	for (long long due = expected_deliveries();
			!setup_failed && !interrupted && (long long)delivery_count < due && now_ns() < drain_end;)
		run_io(now_ns() + IDLE_POLL_NS);
	end = now_ns();
	if (setup_failed)
		fprintf(stderr, "fynsync-bench: a connection failed during the run; results are partial\n");
	rc = report(send_end_actual, end, max_lag);
	teardown();
	return setup_failed ? 2 : rc;
}
