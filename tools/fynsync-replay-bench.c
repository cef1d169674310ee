/*
 * fynsync-replay-bench: times a ctl/resume replay to one client.
 *
 * One connection (role staff by default, so the redacted view; or
 * restaurant_owner for the full view) subscribes to its own
 * fynlo/v1/client/{cid}/#, waits --delay seconds, publishes
 * {"streams": {"{rid}": AFTER}} to fynlo/v1/ctl/resume and then reads the
 * replayed events (fynlo/v1/ev/{rid}/{view}/..., "replay": true) until
 * fynlo/v1/client/{cid}/replay.done. It checks that the events are exactly
 * seq AFTER+1 .. head, in order, each once, on the client's view's topics
 * (and, in the redacted view, without "cost" keys), and reports the time
 * from the request to replay.done and the events per second.
 *
 *   fynsync-replay-bench [--host H] [--port P] [--restaurant R] [--after N]
 *                        [--expect N] [--role staff|restaurant_owner|...]
 *                        (--secret-file F | --token T) [--delay S]
 *                        [--stall S] [--timeout S] [--progress FILE] [--bin-ms MS]
 *                        [--subscribe-live] [--receive-maximum N]
 *
 * Like fynsync-bench: one thread, libmosquitto's non-threaded interface
 * driven by ppoll, CLOCK_MONOTONIC for every duration. The request and
 * replay.done moments are also given in CLOCK_REALTIME (unix seconds) so a
 * driver can line them up with other tools' results. Events are read with
 * jsmn's tokenizer (json_fields.h; only seq, replay, event_type and
 * recorded_at are looked at); replay.done and errors with jansson.
 *
 * Output: a human summary on stdout, then one JSON line (the last line).
 * Exit status: 0 replay complete and consistent, 1 complete but wrong
 * (gap, duplicate, order, view) or not finished within --timeout, 2 usage
 * or setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <jwt.h>
#include <mosquitto.h>

#include "bench_common.h"
#include "json_fields.h"

#define CLIENT_ID_MAX 65
#define TOPIC_MAX 256
#define NS_PER_MS 1000000LL
#define MISC_INTERVAL_NS (100 * NS_PER_MS)
#define IDLE_POLL_NS (20 * NS_PER_MS)
#define READS_PER_POLL 4096

struct options {
	const char *host;
	int port;
	const char *restaurant;
	long long after;
	long long expect;          /* -1: not checked */
	const char *role;
	const char *view;          /* NULL: from the role */
	const char *secret_file;
	const char *token;
	const char *id_prefix;
	double delay_s;
	double stall_s;
	double timeout_s;
	double connect_timeout_s;
	const char *progress_file;
	int bin_ms;
	bool subscribe_live;
	int receive_maximum;
	int mqtt_version;
	bool quiet;
};

static struct options opt = {
	.host = "127.0.0.1", .port = 1883, .restaurant = "r1", .after = 0, .expect = -1,
	.role = "staff", .delay_s = 0, .timeout_s = 300, .connect_timeout_s = 10, .bin_ms = 100,
	.receive_maximum = 65535, .mqtt_version = 5,
};

static void usage(FILE *out)
{
	fputs("usage: fynsync-replay-bench [options]\n"
	      "  --host H              broker host (127.0.0.1)\n"
	      "  --port P              broker MQTT port (1883)\n"
	      "  --restaurant R        the stream to resume (r1)\n"
	      "  --after N             resume after this seq (0: the whole stream)\n"
	      "  --expect N            the replay must hold exactly N events (not checked)\n"
	      "  --role R              role of the minted token (staff; restaurant_owner for the full view)\n"
	      "  --view V              the view the role receives (redacted for staff, manager, kitchen; else full)\n"
	      "  --secret-file F       mint an HS256 token with this secret (the hub's key file)\n"
	      "  --token T             use this token instead (its sub is the username)\n"
	      "  --id-prefix P         client id prefix (replay-<pid>; the client id is P-resume)\n"
	      "  --delay S             seconds between subscribing and the request (0)\n"
	      "  --stall S             read nothing for S seconds after the request, so the broker\n"
	      "                        queues the replay (a client that cannot keep up) (0)\n"
	      "  --timeout S           give up this long after the request (300)\n"
	      "  --connect-timeout S   seconds to connect and subscribe (10)\n"
	      "  --progress FILE       replayed events per --bin-ms: t_s events cumulative\n"
	      "  --bin-ms MS           progress bin width (100)\n"
	      "  --subscribe-live      also subscribe to fynlo/v1/ev/{rid}/{view}/# (live events are counted apart)\n"
	      "  --receive-maximum N   MQTT 5 receive maximum sent in CONNECT (65535)\n"
	      "  --mqtt-version V      5 or 311 (5)\n"
	      "  --quiet               only the JSON line on stdout\n", out);
}

static void parse_options(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'p'},
		{"restaurant", required_argument, NULL, 'r'},
		{"after", required_argument, NULL, 'a'},
		{"expect", required_argument, NULL, 'e'},
		{"role", required_argument, NULL, 'o'},
		{"view", required_argument, NULL, 'v'},
		{"secret-file", required_argument, NULL, 'f'},
		{"token", required_argument, NULL, 't'},
		{"id-prefix", required_argument, NULL, 'i'},
		{"delay", required_argument, NULL, 'd'},
		{"stall", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 'T'},
		{"connect-timeout", required_argument, NULL, 'C'},
		{"progress", required_argument, NULL, 'P'},
		{"bin-ms", required_argument, NULL, 'b'},
		{"subscribe-live", no_argument, NULL, 'L'},
		{"receive-maximum", required_argument, NULL, 'M'},
		{"mqtt-version", required_argument, NULL, 'V'},
		{"quiet", no_argument, NULL, 'Q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int o;

	while ((o = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (o) {
		case 'H': opt.host = optarg; break;
		case 'p': opt.port = (int)parse_int("--port", optarg, 1, 65535); break;
		case 'r': opt.restaurant = optarg; break;
		case 'a': opt.after = parse_int("--after", optarg, 0, LLONG_MAX / 2); break;
		case 'e': opt.expect = parse_int("--expect", optarg, 0, 100000000); break;
		case 'o': opt.role = optarg; break;
		case 'v': opt.view = optarg; break;
		case 'f': opt.secret_file = optarg; break;
		case 't': opt.token = optarg; break;
		case 'i': opt.id_prefix = optarg; break;
		case 'd': opt.delay_s = parse_double("--delay", optarg, 0, 3600); break;
		case 's': opt.stall_s = parse_double("--stall", optarg, 0, 3600); break;
		case 'T': opt.timeout_s = parse_double("--timeout", optarg, 0.1, 86400); break;
		case 'C': opt.connect_timeout_s = parse_double("--connect-timeout", optarg, 0.1, 600); break;
		case 'P': opt.progress_file = optarg; break;
		case 'b': opt.bin_ms = (int)parse_int("--bin-ms", optarg, 1, 60000); break;
		case 'L': opt.subscribe_live = true; break;
		case 'M': opt.receive_maximum = (int)parse_int("--receive-maximum", optarg, 1, 65535); break;
		case 'V': opt.mqtt_version = parse_mqtt_version(optarg); break;
		case 'Q': opt.quiet = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
	if (!id_chars_ok(opt.restaurant, 64) || strchr(opt.restaurant, '.'))
		die("invalid stream id '%s'", opt.restaurant);
	if (!!opt.secret_file == !!opt.token)
		die("give exactly one of --secret-file and --token");
	if (opt.id_prefix && !id_chars_ok(opt.id_prefix, 48))
		die("invalid --id-prefix '%s' (characters [A-Za-z0-9._-], at most 48)", opt.id_prefix);
	if (!opt.view) {
		bool redacted = strcmp(opt.role, "staff") == 0 || strcmp(opt.role, "manager") == 0
			|| strcmp(opt.role, "kitchen") == 0;
		opt.view = redacted ? "redacted" : "full";
	}
	if (!id_chars_ok(opt.view, 64))
		die("invalid --view '%s'", opt.view);
}

/* ---- time ------------------------------------------------------------------- */

static double realtime_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (the hub's timestamps) as unix seconds, or -1. */
static double parse_hub_time(const char *text)
{
	struct tm tm;
	int ms = 0;
	char *rest;
	if (!text)
		return -1;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	if (*rest == '.')
		ms = (int)strtol(rest + 1, NULL, 10);
	return (double)timegm(&tm) + ms / 1000.0;
}

/* ---- tokens (as fynsync-bench mints them) ------------------------------------------ */

/* ---- state -------------------------------------------------------------------- */

struct counters {
	long long received;        /* replayed events (replay: true) */
	long long in_order;        /* each exactly the previous seq + 1 */
	long long duplicates;      /* a seq received before */
	long long out_of_order;    /* seq not greater than the previous one (duplicates included) */
	long long jumps;           /* seq greater than the previous one + 1 */
	long long outside;         /* seq outside after+1 .. head */
	long long wrong_topic;     /* not on ev/{rid}/{view}/{domain}/{action} of its event_type */
	long long unredacted;      /* a "cost" key in the redacted view */
	long long bad;             /* not JSON, no integer seq */
	long long live;            /* events without replay: true (with --subscribe-live) */
	long long live_before_done;
	long long errors;          /* messages on client/{cid}/error */
	long long other;           /* anything else */
};

static struct counters cnt;
static struct mosquitto *mosq;
static char client_id[CLIENT_ID_MAX];
static char sub_name[129];
static char topic_prefix[TOPIC_MAX];   /* fynlo/v1/ev/{rid}/{view}/ */
static char done_topic[TOPIC_MAX], error_topic[TOPIC_MAX];
static bool connected, subscribed, setup_failed, done;
static int subscriptions_pending;
static volatile sig_atomic_t interrupted;

static int64_t request_ns, first_event_ns, last_event_ns, done_ns;
static double request_real, done_real;
static long long last_seq = -1, head = -1, max_seq = -1, min_seq = -1;
static bool snapshot_required;
static char *done_payload, *first_error;
static int64_t *arrivals;            /* arrival time of each replayed event, ns after the request */
static size_t arrival_cap;
static unsigned char *seen;          /* bitmap over seq after+1 .. after+seen_bits */
static size_t seen_bits;
static double live_delay_max_s = -1, live_delay_sum_s;
static long long live_delay_n, live_seq_min = -1, live_seq_max = -1;

static void on_signal(int signum)
{
	(void)signum;
	interrupted = 1;
}

static void note_arrival(int64_t at)
{
	if ((size_t)cnt.received == arrival_cap) {
		size_t cap = arrival_cap ? arrival_cap * 2 : 1 << 17;
		int64_t *grown = realloc(arrivals, cap * sizeof(*arrivals));
		if (!grown)
			die("out of memory");
		arrivals = grown;
		arrival_cap = cap;
	}
	arrivals[cnt.received] = at - request_ns;
}

/* Marks seq seen; returns true when it was seen before. */
static bool mark_seen(long long seq)
{
	size_t bit;
	if (seq <= opt.after)
		return false;
	bit = (size_t)(seq - opt.after - 1);
	if (bit >= seen_bits) {
		size_t bits = seen_bits ? seen_bits : 1 << 17;
		unsigned char *grown;
		while (bits <= bit)
			bits *= 2;
		grown = realloc(seen, bits / 8);
		if (!grown)
			die("out of memory");
		memset(grown + seen_bits / 8, 0, (bits - seen_bits) / 8);
		seen = grown;
		seen_bits = bits;
	}
	if (seen[bit / 8] & (1u << (bit % 8)))
		return true;
	seen[bit / 8] |= (unsigned char)(1u << (bit % 8));
	return false;
}

/* The topic an event of this type must come on: prefix + domain/action. */
static bool topic_fits(const char *topic, const char *type)
{
	size_t plen = strlen(topic_prefix);
	const char *dot = type ? strchr(type, '.') : NULL;
	const char *rest = topic + plen;
	size_t dlen;
	if (!dot || strncmp(topic, topic_prefix, plen) != 0)
		return false;
	dlen = (size_t)(dot - type);
	return strncmp(rest, type, dlen) == 0 && rest[dlen] == '/' && strcmp(rest + dlen + 1, dot + 1) == 0;
}

/* ---- reading an event ------------------------------------------------------------ */

/* The top-level members the checks need. */
struct event_fields {
	bool ok;                  /* one JSON object, nothing after it */
	bool has_seq;             /* seq is an integer */
	long long seq;
	bool replay;              /* replay is the literal true */
	char event_type[128];     /* "" when absent, not a string or escaped */
	char recorded_at[40];
};

/* jsmn's tokens, not a jansson tree (json_fields.h): jansson was half of
 * this client's CPU and so of the replay's wall time on two cores. */
static struct json_fields *fields;

static void read_event(const char *text, size_t len, struct event_fields *f)
{
	memset(f, 0, sizeof(*f));
	if (!json_fields_read(fields, text, len))
		return;
	f->ok = true;
	f->has_seq = json_fields_int(fields, "seq", &f->seq);
	f->replay = json_fields_true(fields, "replay");
	if (!json_fields_string(fields, "event_type", f->event_type, sizeof(f->event_type)))
		f->event_type[0] = '\0';
	if (!json_fields_string(fields, "recorded_at", f->recorded_at, sizeof(f->recorded_at)))
		f->recorded_at[0] = '\0';
}

static void count_live(const struct event_fields *f)
{
	double recorded = parse_hub_time(f->recorded_at[0] ? f->recorded_at : NULL);
	cnt.live++;
	if (!done)
		cnt.live_before_done++;
	if (live_seq_min < 0 || f->seq < live_seq_min)
		live_seq_min = f->seq;
	if (f->seq > live_seq_max)
		live_seq_max = f->seq;
	if (recorded > 0) {
		double delay = realtime_s() - recorded;
		live_delay_sum_s += delay;
		live_delay_n++;
		if (delay > live_delay_max_s)
			live_delay_max_s = delay;
	}
}

static void handle_event(const struct mosquitto_message *m, int64_t now)
{
	struct event_fields f;
	long long seq;

	read_event(m->payload, (size_t)m->payloadlen, &f);
	if (!f.ok || !f.has_seq) {
		cnt.bad++;
		return;
	}
	seq = f.seq;
	if (!f.replay) {
		count_live(&f);
		return;
	}
	note_arrival(now);
	cnt.received++;
	if (!first_event_ns)
		first_event_ns = now;
	last_event_ns = now;
	if (!topic_fits(m->topic, f.event_type[0] ? f.event_type : NULL))
		cnt.wrong_topic++;
	if (strcmp(opt.view, "redacted") == 0 && m->payloadlen > 0
			&& memmem(m->payload, (size_t)m->payloadlen, "\"cost\"", 6))
		cnt.unredacted++;
	if (seq <= opt.after)
		cnt.outside++;
	if (mark_seen(seq))
		cnt.duplicates++;
	if (last_seq < 0 ? seq == opt.after + 1 : seq == last_seq + 1)
		cnt.in_order++;
	else if (last_seq >= 0 && seq <= last_seq)
		cnt.out_of_order++;
	else
		cnt.jumps++;
	if (min_seq < 0 || seq < min_seq)
		min_seq = seq;
	if (seq > max_seq)
		max_seq = seq;
	last_seq = seq;
}

static void handle_done(const struct mosquitto_message *m, int64_t now)
{
	json_t *doc = json_loadb(m->payload, (size_t)m->payloadlen, 0, NULL);
	const char *stream = json_string_value(json_object_get(doc, "stream"));
	json_t *h = json_object_get(doc, "head");

	if (!doc || !stream || strcmp(stream, opt.restaurant) != 0 || !json_is_integer(h)) {
		cnt.other++;
		json_decref(doc);
		return;
	}
	done = true;
	done_ns = now;
	done_real = realtime_s();
	head = json_integer_value(h);
	snapshot_required = json_is_true(json_object_get(doc, "snapshot_required"));
	done_payload = strndup(m->payload, (size_t)m->payloadlen);
	json_decref(doc);
}

static void on_connect(struct mosquitto *m, void *userdata, int rc)
{
	(void)m;
	(void)userdata;
	if (rc == 0) {
		connected = true;
	} else {
		fprintf(stderr, "fynsync-replay-bench: %s refused: %s (%d)\n", client_id, mosquitto_connack_string(rc), rc);
		setup_failed = true;
	}
}

static void on_disconnect(struct mosquitto *m, void *userdata, int rc)
{
	(void)m;
	(void)userdata;
	if (connected && rc != 0) {
		fprintf(stderr, "fynsync-replay-bench: %s lost its connection: %s\n", client_id, mosquitto_strerror(rc));
		setup_failed = true;
	}
	connected = false;
}

static void on_subscribe(struct mosquitto *m, void *userdata, int mid, int qos_count, const int *granted)
{
	(void)m;
	(void)userdata;
	(void)mid;
	for (int i = 0; i < qos_count; i++) {
		if (granted[i] < 0 || granted[i] > 2) {
			fprintf(stderr, "fynsync-replay-bench: subscription refused (code 0x%02x); check the role and the ACL\n",
					(unsigned)granted[i]);
			setup_failed = true;
			return;
		}
	}
	if (--subscriptions_pending == 0)
		subscribed = true;
}

static void on_message(struct mosquitto *m, void *userdata, const struct mosquitto_message *msg)
{
	int64_t now = now_ns();
	(void)m;
	(void)userdata;
	if (strncmp(msg->topic, "fynlo/v1/ev/", 12) == 0) {
		handle_event(msg, now);
	} else if (strcmp(msg->topic, done_topic) == 0) {
		handle_done(msg, now);
	} else if (strcmp(msg->topic, error_topic) == 0) {
		cnt.errors++;
		if (!first_error)
			first_error = strndup(msg->payload, (size_t)msg->payloadlen);
	} else {
		cnt.other++;
	}
}

/* ---- the poll loop ---------------------------------------------------------------- */

static void check_rc(int rc, const char *what)
{
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
		fprintf(stderr, "fynsync-replay-bench: %s failed: %s\n", what,
				rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		setup_failed = true;
	}
}

/* One poll, then every packet already in the socket buffer (libmosquitto
 * reads one packet per call when nothing of its own is queued). */
static void run_io(int64_t deadline)
{
	static int64_t next_misc;
	struct pollfd fd;
	struct timespec ts;
	int64_t wait = deadline - now_ns();
	int n;

	if (wait < 0)
		wait = 0;
	fd.fd = mosquitto_socket(mosq);
	fd.events = POLLIN | (mosquitto_want_write(mosq) ? POLLOUT : 0);
	fd.revents = 0;
	ts.tv_sec = (time_t)(wait / NS_PER_S);
	ts.tv_nsec = (long)(wait % NS_PER_S);
	n = ppoll(&fd, 1, &ts, NULL);
	if (n < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	if (n > 0 && (fd.revents & (POLLIN | POLLHUP | POLLERR))) {
		int pending = 1;
		for (int i = 0; i < READS_PER_POLL && pending > 0 && !setup_failed; i++) {
			check_rc(mosquitto_loop_read(mosq, 1), "read");
			if (ioctl(fd.fd, FIONREAD, &pending) != 0)
				pending = 0;
		}
	}
	if (n > 0 && (fd.revents & POLLOUT))
		check_rc(mosquitto_loop_write(mosq, 1), "write");
	if (mosquitto_want_write(mosq))
		check_rc(mosquitto_loop_write(mosq, 1), "write");
	if (now_ns() >= next_misc) {
		check_rc(mosquitto_loop_misc(mosq), "keepalive");
		next_misc = now_ns() + MISC_INTERVAL_NS;
	}
}

static void connect_and_subscribe(const char *token)
{
	int64_t deadline = now_ns() + (int64_t)(opt.connect_timeout_s * NS_PER_S);
	char topic[TOPIC_MAX + 2];
	int rc;

	mosq = mosquitto_new(client_id, true, NULL);
	if (!mosq)
		die("mosquitto_new: %s", strerror(errno));
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION,
			opt.mqtt_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (opt.mqtt_version == 5)
		mosquitto_int_option(mosq, MOSQ_OPT_RECEIVE_MAXIMUM, opt.receive_maximum);
	mosquitto_connect_callback_set(mosq, on_connect);
	mosquitto_disconnect_callback_set(mosq, on_disconnect);
	mosquitto_subscribe_callback_set(mosq, on_subscribe);
	mosquitto_message_callback_set(mosq, on_message);
	if (mosquitto_username_pw_set(mosq, sub_name, token) != MOSQ_ERR_SUCCESS)
		die("cannot set credentials");
	rc = mosquitto_connect(mosq, opt.host, opt.port, 60);
	if (rc != MOSQ_ERR_SUCCESS)
		die("cannot connect to %s:%d: %s", opt.host, opt.port,
				rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	while (!connected && !setup_failed && !interrupted) {
		if (now_ns() > deadline)
			die("the connection was not accepted within the connect timeout");
		run_io(now_ns() + IDLE_POLL_NS);
	}
	if (setup_failed || interrupted)
		die("setup failed (see above)");
	snprintf(topic, sizeof(topic), "fynlo/v1/client/%s/#", client_id);
	subscriptions_pending = 1;
	check_rc(mosquitto_subscribe(mosq, NULL, topic, 1), "subscribe");
	if (opt.subscribe_live) {
		snprintf(topic, sizeof(topic), "%s#", topic_prefix);
		subscriptions_pending++;
		check_rc(mosquitto_subscribe(mosq, NULL, topic, 1), "subscribe");
	}
	while (!subscribed && !setup_failed && !interrupted) {
		if (now_ns() > deadline)
			die("the subscriptions were not granted within the connect timeout");
		run_io(now_ns() + IDLE_POLL_NS);
	}
	if (setup_failed || interrupted)
		die("setup failed (see above)");
}

/* ---- results ------------------------------------------------------------------------ */

static void write_progress(void)
{
	FILE *f = fopen(opt.progress_file, "w");
	int64_t bin = (int64_t)opt.bin_ms * NS_PER_MS;
	int64_t end = done ? done_ns - request_ns : (cnt.received ? arrivals[cnt.received - 1] : 0);
	size_t bins = (size_t)(end / bin) + 1, i = 0;
	long long total = 0;

	if (!f)
		die("cannot write %s: %s", opt.progress_file, strerror(errno));
	fprintf(f, "# t_s events cumulative (replayed events per %d ms bin after the request; t_s = bin end)\n",
			opt.bin_ms);
	fprintf(f, "0 0 0\n");
	for (size_t b = 0; b < bins; b++) {
		long long in_bin = 0;
		while (i < (size_t)cnt.received && arrivals[i] < (int64_t)(b + 1) * bin) {
			in_bin++;
			i++;
		}
		total += in_bin;
		fprintf(f, "%.3f %lld %lld\n", (double)((int64_t)(b + 1) * bin) / 1e9, in_bin, total);
	}
	fclose(f);
}

static long long missing_in_range(long long from, long long to)
{
	long long missing = 0;
	for (long long s = from; s <= to; s++) {
		size_t bit = (size_t)(s - opt.after - 1);
		if (bit >= seen_bits || !(seen[bit / 8] & (1u << (bit % 8))))
			missing++;
	}
	return missing;
}

static double ms_between(int64_t a, int64_t b)
{
	return a && b ? (double)(b - a) / 1e6 : -1.0;
}

static int report(void)
{
	struct rusage self_usage;
	json_t *out, *problems = json_array();
	double replay_s = done ? (double)(done_ns - request_ns) / 1e9 : -1;
	double last_s = last_event_ns ? (double)(last_event_ns - request_ns) / 1e9 : -1;
	long long expected = done && !snapshot_required ? head - opt.after : -1;
	long long missing = done && head > opt.after ? missing_in_range(opt.after + 1, head) : 0;
	double cpu_s;
	int rc;

	getrusage(RUSAGE_SELF, &self_usage);
	cpu_s = (double)self_usage.ru_utime.tv_sec + (double)self_usage.ru_utime.tv_usec / 1e6
		+ (double)self_usage.ru_stime.tv_sec + (double)self_usage.ru_stime.tv_usec / 1e6;
	if (!problems)
		die("out of memory");
	if (!done)
		json_array_append_new(problems, json_sprintf("no replay.done within %.0f s (%lld events received)",
				opt.timeout_s, cnt.received));
	if (snapshot_required)
		json_array_append_new(problems, json_sprintf("replay.done said snapshot_required (raise max_replay)"));
	if (missing)
		json_array_append_new(problems, json_sprintf("%lld of seq %lld..%lld never arrived", missing, opt.after + 1, head));
	if (cnt.duplicates)
		json_array_append_new(problems, json_sprintf("%lld duplicate seqs", cnt.duplicates));
	if (cnt.out_of_order || cnt.jumps)
		json_array_append_new(problems, json_sprintf("%lld events came before an earlier seq, %lld after a gap",
				cnt.out_of_order, cnt.jumps));
	if (cnt.outside || (done && max_seq > head))
		json_array_append_new(problems, json_sprintf("seqs outside %lld..%lld (got %lld..%lld)",
				opt.after + 1, head, min_seq, max_seq));
	if (opt.expect >= 0 && cnt.received != opt.expect)
		json_array_append_new(problems, json_sprintf("%lld replayed events, expected %lld", cnt.received, opt.expect));
	if (done && expected >= 0 && cnt.received != expected)
		json_array_append_new(problems, json_sprintf("%lld replayed events for head %lld", cnt.received, head));
	if (cnt.wrong_topic)
		json_array_append_new(problems, json_sprintf("%lld events on a topic other than %s{domain}/{action}",
				cnt.wrong_topic, topic_prefix));
	if (cnt.unredacted)
		json_array_append_new(problems, json_sprintf("%lld events with a cost key in the redacted view", cnt.unredacted));
	if (cnt.bad)
		json_array_append_new(problems, json_sprintf("%lld unreadable events", cnt.bad));
	if (cnt.errors)
		json_array_append_new(problems, json_sprintf("%lld error answers, first: %s", cnt.errors, first_error));

	out = json_pack("{s:s,s:s,s:i,s:s,s:I,s:s,s:s,s:s,s:i,s:i,"
			"s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,"
			"s:I,s:I,s:I,s:f,s:b,s:s?,"
			"s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
			"s:{s:I,s:I,s:I,s:I,s:f,s:f},"
			"s:f,s:I,s:o}",
			"tool", "fynsync-replay-bench", "host", opt.host, "port", opt.port, "restaurant", opt.restaurant,
			"after", (json_int_t)opt.after, "role", opt.role, "view", opt.view, "client_id", client_id,
			"mqtt_version", opt.mqtt_version, "receive_maximum", opt.receive_maximum,
			"request_realtime", request_real, "done_realtime", done ? done_real : -1.0,
			"replay_s", replay_s, "first_event_ms", ms_between(request_ns, first_event_ns),
			"last_event_s", last_s, "done_after_last_event_ms", ms_between(last_event_ns, done_ns),
			"events_per_s", done && replay_s > 0 ? (double)cnt.received / replay_s : -1.0,
			"stall_s", opt.stall_s,
			"events_per_s_after_stall", done && replay_s > opt.stall_s ? (double)cnt.received / (replay_s - opt.stall_s) : -1.0,
			"head", (json_int_t)head, "expected", (json_int_t)expected, "received", (json_int_t)cnt.received,
			"client_cpu_s", cpu_s, "snapshot_required", snapshot_required, "replay_done", done_payload,
			"seq", "first", (json_int_t)min_seq, "last", (json_int_t)max_seq, "in_order", (json_int_t)cnt.in_order,
			"missing", (json_int_t)missing, "duplicates", (json_int_t)cnt.duplicates,
			"out_of_order", (json_int_t)cnt.out_of_order, "jumps", (json_int_t)cnt.jumps,
			"outside", (json_int_t)cnt.outside, "wrong_topic", (json_int_t)cnt.wrong_topic,
			"unredacted", (json_int_t)cnt.unredacted,
			"live", "received", (json_int_t)cnt.live, "before_done", (json_int_t)cnt.live_before_done,
			"seq_first", (json_int_t)live_seq_min, "seq_last", (json_int_t)live_seq_max,
			"delay_mean_s", live_delay_n ? live_delay_sum_s / (double)live_delay_n : -1.0,
			"delay_max_s", live_delay_max_s,
			"timeout_s", opt.timeout_s, "errors", (json_int_t)cnt.errors, "problems", problems);
	if (!out)
		die("cannot build the JSON report");
	rc = json_array_size(problems) ? 1 : 0;
	if (opt.progress_file)
		write_progress();
	if (!opt.quiet) {
		printf("fynsync-replay-bench: resume %s after %lld as %s (%s view) -> %s:%d\n", opt.restaurant, opt.after,
				opt.role, opt.view, opt.host, opt.port);
		if (done)
			printf("  replay.done        %.3f s after the request: %s\n", replay_s, done_payload);
		printf("  replayed events    %lld (%.0f ev/s to replay.done; first after %.1f ms, last at %.3f s)\n",
				cnt.received, done && replay_s > 0 ? (double)cnt.received / replay_s : 0.0,
				ms_between(request_ns, first_event_ns), last_s);
		if (opt.stall_s > 0 && done && replay_s > opt.stall_s)
			printf("  after the stall    %.3f s, %.0f ev/s (read nothing for the first %.1f s)\n",
					replay_s - opt.stall_s, (double)cnt.received / (replay_s - opt.stall_s), opt.stall_s);
		printf("  seq                %lld..%lld, %lld in order, %lld missing, %lld duplicate, %lld out of order\n",
				min_seq, max_seq, cnt.in_order, missing, cnt.duplicates, cnt.out_of_order);
		if (opt.subscribe_live)
			printf("  live events        %lld (%lld before replay.done), commit -> here mean %.3f s max %.3f s\n",
					cnt.live, cnt.live_before_done,
					live_delay_n ? live_delay_sum_s / (double)live_delay_n : 0.0, live_delay_max_s);
		printf("  client CPU         %.2f s\n", cpu_s);
		print_problems(problems);
	}
	print_report_line(out, 16);
	return rc;
}

int main(int argc, char **argv)
{
	bench_program = "fynsync-replay-bench";
	struct sigaction sa;
	char prefix[49], request[TOPIC_MAX + 32], *token;
	int64_t start, deadline;
	int rc;

	parse_options(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (opt.id_prefix)
		snprintf(prefix, sizeof(prefix), "%s", opt.id_prefix);
	else
		snprintf(prefix, sizeof(prefix), "replay-%d", (int)getpid());
	snprintf(client_id, sizeof(client_id), "%s-resume", prefix);
	snprintf(topic_prefix, sizeof(topic_prefix), "fynlo/v1/ev/%s/%s/", opt.restaurant, opt.view);
	snprintf(done_topic, sizeof(done_topic), "fynlo/v1/client/%s/replay.done", client_id);
	snprintf(error_topic, sizeof(error_topic), "fynlo/v1/client/%s/error", client_id);
	if (opt.secret_file) {
		size_t key_len = 0;
		unsigned char *key = read_file(opt.secret_file, &key_len);
		snprintf(sub_name, sizeof(sub_name), "%s", client_id);
		token = mint_token(key, key_len, sub_name, opt.role, opt.restaurant,
				(long)(opt.delay_s + opt.timeout_s + opt.connect_timeout_s) + 3600);
		free(key);
	} else {
		token = strdup(opt.token);
		if (!token)
			die("out of memory");
		token_sub(token, sub_name, sizeof(sub_name));
	}

	if (!(fields = json_fields_new()))
		die("out of memory");
	mosquitto_lib_init();
	connect_and_subscribe(token);

	start = now_ns();
	while (!setup_failed && !interrupted && now_ns() < start + (int64_t)(opt.delay_s * NS_PER_S))
		run_io(start + (int64_t)(opt.delay_s * NS_PER_S));
	if (setup_failed || interrupted)
		die("stopped before the request");

	snprintf(request, sizeof(request), "{\"streams\":{\"%s\":%lld}}", opt.restaurant, opt.after);
	request_real = realtime_s();
	request_ns = now_ns();
	check_rc(mosquitto_publish(mosq, NULL, "fynlo/v1/ctl/resume", (int)strlen(request), request, 1, false),
			"publish");
	if (opt.stall_s > 0) {
		/* Send the request, then leave the socket unread. */
		struct timespec pause = { (time_t)opt.stall_s, (long)((opt.stall_s - (double)(time_t)opt.stall_s) * 1e9) };
		while (mosquitto_want_write(mosq) && !setup_failed)
			check_rc(mosquitto_loop_write(mosq, 1), "write");
		while (nanosleep(&pause, &pause) != 0 && errno == EINTR && !interrupted)
			;
	}
	deadline = request_ns + (int64_t)(opt.timeout_s * NS_PER_S);
	while (!done && !setup_failed && !interrupted && cnt.errors == 0 && now_ns() < deadline)
		run_io(now_ns() + IDLE_POLL_NS);
	/* Events after replay.done would be a hub bug; look briefly. */
	if (done && !setup_failed) {
		int64_t settle = now_ns() + 200 * NS_PER_MS;
		while (!setup_failed && !interrupted && now_ns() < settle)
			run_io(settle);
	}
	if (setup_failed)
		fprintf(stderr, "fynsync-replay-bench: the connection failed during the replay; results are partial\n");
	rc = report();
	mosquitto_disconnect(mosq);
	mosquitto_loop_write(mosq, 1);
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	free(token);
	free(arrivals);
	free(seen);
	json_fields_free(fields);
	free(done_payload);
	free(first_error);
	return setup_failed ? 2 : rc;
}
