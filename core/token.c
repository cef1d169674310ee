/*
 * token.c: verifying the JWT a client presents as its MQTT password (see
 * token.h and the "Identity: connecting" section of the protocol).
 *
 * Checks run in this order, each refusal with a short reason that never
 * quotes the token: size and shape (three strict base64url parts), the header
 * decoded here (pinned alg, typ, crit), the payload decoded here, the
 * signature by libjwt, then every claim, strictly typed with jansson. Both
 * JSON documents are parsed with duplicate keys refused, so this file and
 * libjwt can never read different values out of the same token.
 */
#include "token.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

_Static_assert(sizeof(time_t) >= sizeof(json_int_t), "exp must fit in time_t");

#define ID_MAX_BYTES 64
#define ALG_ECHO_MAX_BYTES 16 /* longer header alg values are not quoted */
#define RSA_MIN_BITS 2048
#define PEM_PUBLIC_MARKER "-----BEGIN PUBLIC KEY-----"

static const char *const alg_names[] = {
	[FYN_ALG_HS256] = "HS256",
	[FYN_ALG_RS256] = "RS256",
	[FYN_ALG_ES256] = "ES256",
};
static const jwt_alg_t alg_libjwt[] = {
	[FYN_ALG_HS256] = JWT_ALG_HS256,
	[FYN_ALG_RS256] = JWT_ALG_RS256,
	[FYN_ALG_ES256] = JWT_ALG_ES256,
};
#define ALG_COUNT (sizeof(alg_names) / sizeof(alg_names[0]))

/* The three dot-separated parts of a compact JWS. */
struct jws_parts {
	const char *seg[3];
	size_t len[3];
};

/* Writes a message into buf (when there is one) and returns -1. */
__attribute__((format(printf, 3, 4)))
static int refuse(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- identifiers ------------------------------------------------------ */

static bool is_ascii_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

/* 1..max bytes, each an ASCII letter, digit or one of extra. */
static bool word_is_valid(const char *s, const char *extra, size_t max)
{
	size_t n;

	if (s == NULL)
		return false;
	for (n = 0; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= max || (!is_ascii_alnum(c) && strchr(extra, c) == NULL))
			return false;
	}
	return n > 0;
}

bool fyn_client_id_is_valid(const char *client_id)
{
	return word_is_valid(client_id, "._-", ID_MAX_BYTES);
}

bool fyn_restaurant_id_is_valid(const char *rid)
{
	return word_is_valid(rid, "_-", ID_MAX_BYTES) && strcmp(rid, "platform") != 0;
}

/* C0 controls, DEL, and C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F). */
static bool is_control_at(const unsigned char *s, size_t i)
{
	if (s[i] < 0x20 || s[i] == 0x7f)
		return true;
	return s[i] == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f;
}

bool fyn_sub_is_valid(const char *sub)
{
	size_t n, i;

	if (sub == NULL)
		return false;
	n = strnlen(sub, FYN_SUB_MAX_BYTES + 1);
	if (n == 0 || n > FYN_SUB_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++) {
		if (is_control_at((const unsigned char *)sub, i))
			return false;
	}
	return true;
}

bool fyn_claims_has_restaurant(const struct fyn_claims *claims, const char *rid)
{
	size_t i;

	if (claims == NULL || rid == NULL)
		return false;
	for (i = 0; i < claims->restaurant_count; i++) {
		if (strcmp(claims->restaurants[i], rid) == 0)
			return true;
	}
	return false;
}

void fyn_claims_clear(struct fyn_claims *claims)
{
	size_t i;

	if (claims == NULL)
		return;
	for (i = 0; i < claims->restaurant_count; i++)
		free(claims->restaurants[i]);
	free(claims->restaurants);
	free(claims->sub);
	memset(claims, 0, sizeof(*claims));
}

/* ---- configuration ---------------------------------------------------- */

static int alg_parse(const char *name, enum fyn_token_alg *out)
{
	size_t i;

	for (i = 0; name != NULL && i < ALG_COUNT; i++) {
		if (strcmp(name, alg_names[i]) == 0) {
			*out = (enum fyn_token_alg)i;
			return 0;
		}
	}
	return -1;
}

/* Reads the whole file (at most FYN_TOKEN_MAX_KEY_BYTES) into cfg->key,
 * NUL-terminated for the PEM parser; key_len excludes the terminator. */
static int read_key_file(const char *path, struct fyn_token_config *cfg,
		char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	size_t n;

	if (f == NULL)
		return refuse(err, errlen, "cannot open key file %s: %s", path, strerror(errno));
	buf = malloc(FYN_TOKEN_MAX_KEY_BYTES + 2); /* one byte to detect oversize, one NUL */
	if (buf == NULL) {
		fclose(f);
		return refuse(err, errlen, "out of memory reading key file %s", path);
	}
	n = fread(buf, 1, FYN_TOKEN_MAX_KEY_BYTES + 1, f);
	if (ferror(f)) {
		int saved = errno;

		fclose(f);
		OPENSSL_cleanse(buf, n);
		free(buf);
		return refuse(err, errlen, "cannot read key file %s: %s", path, strerror(saved));
	}
	fclose(f);
	buf[n] = '\0';
	cfg->key = buf;
	cfg->key_len = n;
	if (n == 0)
		return refuse(err, errlen, "key file %s is empty", path);
	if (n > FYN_TOKEN_MAX_KEY_BYTES)
		return refuse(err, errlen, "key file %s is larger than %d bytes", path,
				FYN_TOKEN_MAX_KEY_BYTES);
	return 0;
}

static int check_rsa_key(EVP_PKEY *pkey, const char *path, char *err, size_t errlen)
{
	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_RSA)
		return refuse(err, errlen, "key file %s: RS256 needs an RSA public key", path);
	if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS)
		return refuse(err, errlen, "key file %s: RSA key has %d bits, at least %d needed",
				path, EVP_PKEY_get_bits(pkey), RSA_MIN_BITS);
	return 0;
}

static int check_ec_key(EVP_PKEY *pkey, const char *path, char *err, size_t errlen)
{
	char group[64] = "";
	size_t group_len = 0;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) != 1 ||
	    strcmp(group, SN_X9_62_prime256v1) != 0)
		return refuse(err, errlen, "key file %s: ES256 needs an EC public key on curve P-256",
				path);
	return 0;
}

/* Parses the PEM the way libjwt will, so a bad key fails at load time. */
static int check_public_key(const struct fyn_token_config *cfg, const char *path,
		char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(cfg->key, (int)cfg->key_len);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	int rc;

	BIO_free(bio);
	if (pkey == NULL) {
		ERR_clear_error();
		return refuse(err, errlen, "key file %s: cannot parse the public key", path);
	}
	if (cfg->alg == FYN_ALG_RS256)
		rc = check_rsa_key(pkey, path, err, errlen);
	else
		rc = check_ec_key(pkey, path, err, errlen);
	EVP_PKEY_free(pkey);
	return rc;
}

static int check_key(const struct fyn_token_config *cfg, const char *path,
		char *err, size_t errlen)
{
	if (cfg->alg == FYN_ALG_HS256) {
		if (cfg->key_len >= FYN_HS256_MIN_SECRET_BYTES)
			return 0;
		return refuse(err, errlen, "key file %s: HS256 secret is %zu bytes, at least %d needed",
				path, cfg->key_len, FYN_HS256_MIN_SECRET_BYTES);
	}
	if (cfg->key == NULL || memmem(cfg->key, cfg->key_len, PEM_PUBLIC_MARKER, strlen(PEM_PUBLIC_MARKER)) == NULL)
		return refuse(err, errlen, "key file %s: no PEM public key (%s) found", path,
				PEM_PUBLIC_MARKER);
	return check_public_key(cfg, path, err, errlen);
}

/* NULL and "" mean "not configured"; anything else is copied. */
static int copy_optional(const char *value, char **out)
{
	if (value == NULL || value[0] == '\0')
		return 0;
	*out = strdup(value);
	return *out == NULL ? -1 : 0;
}

static int load_into(struct fyn_token_config *next, const char *alg,
		const char *key_file, const char *issuer, const char *audience,
		char *err, size_t errlen)
{
	if (key_file == NULL)
		return refuse(err, errlen, "no key file configured");
	if (alg_parse(alg, &next->alg) != 0)
		return refuse(err, errlen, "key file %s: unknown algorithm %s (expected HS256, RS256 or ES256)",
				key_file, alg ? alg : "(none)");
	if (read_key_file(key_file, next, err, errlen) != 0 ||
	    check_key(next, key_file, err, errlen) != 0)
		return -1;
	if (copy_optional(issuer, &next->issuer) != 0 ||
	    copy_optional(audience, &next->audience) != 0)
		return refuse(err, errlen, "out of memory loading key file %s", key_file);
	return 0;
}

int fyn_token_config_load(struct fyn_token_config *cfg, const char *alg,
		const char *key_file, const char *issuer, const char *audience,
		int leeway_s, char *err, size_t errlen)
{
	struct fyn_token_config next = {0};

	if (cfg == NULL)
		return refuse(err, errlen, "no configuration to fill");
	memset(cfg, 0, sizeof(*cfg));
	if (leeway_s < 0 || leeway_s > FYN_TOKEN_MAX_LEEWAY_S)
		return refuse(err, errlen, "token leeway %d s is out of range 0..%d",
				leeway_s, FYN_TOKEN_MAX_LEEWAY_S);
	if (load_into(&next, alg, key_file, issuer, audience, err, errlen) != 0) {
		fyn_token_config_clear(&next);
		return -1;
	}
	next.leeway_s = leeway_s;
	*cfg = next;
	return 0;
}

void fyn_token_config_clear(struct fyn_token_config *cfg)
{
	if (cfg == NULL)
		return;
	if (cfg->key != NULL)
		OPENSSL_cleanse(cfg->key, cfg->key_len);
	free(cfg->key);
	free(cfg->issuer);
	free(cfg->audience);
	memset(cfg, 0, sizeof(*cfg));
}

static bool config_is_usable(const struct fyn_token_config *cfg)
{
	return cfg != NULL && cfg->key != NULL && cfg->key_len > 0 &&
	       cfg->key_len <= FYN_TOKEN_MAX_KEY_BYTES && (size_t)cfg->alg < ALG_COUNT &&
	       cfg->leeway_s >= 0 && cfg->leeway_s <= FYN_TOKEN_MAX_LEEWAY_S;
}

/* ---- base64url and token shape ---------------------------------------- */

static int b64url_digit(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* RFC 7515 base64url: no padding, canonical (unused trailing bits zero). */
static bool b64url_is_valid(const char *s, size_t len)
{
	size_t i;

	if (len % 4 == 1)
		return false;
	for (i = 0; i < len; i++) {
		if (b64url_digit((unsigned char)s[i]) < 0)
			return false;
	}
	if (len % 4 == 2)
		return (b64url_digit((unsigned char)s[len - 1]) & 0x0f) == 0;
	if (len % 4 == 3)
		return (b64url_digit((unsigned char)s[len - 1]) & 0x03) == 0;
	return true;
}

/* Decodes an already validated segment; NULL only when out of memory. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len)
{
	unsigned char *out = malloc(len / 4 * 3 + 3);
	unsigned int acc = 0, bits = 0;
	size_t i, n = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		acc = (acc << 6) | (unsigned int)b64url_digit((unsigned char)s[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1u;
		}
	}
	*out_len = n;
	return out;
}

/* 0: three parts, all valid base64url; -1: not three parts; -2: bad encoding. */
static int split_token(const char *token, struct jws_parts *parts)
{
	const char *p = token;
	size_t i;

	for (i = 0; i < 3; i++) {
		const char *dot = strchr(p, '.');

		if ((dot == NULL) != (i == 2))
			return -1;
		parts->seg[i] = p;
		parts->len[i] = dot ? (size_t)(dot - p) : strlen(p);
		p = dot ? dot + 1 : p;
	}
	for (i = 0; i < 3; i++) {
		if (!b64url_is_valid(parts->seg[i], parts->len[i]))
			return -2;
	}
	return parts->len[0] > 0 && parts->len[1] > 0 ? 0 : -1;
}

/* The JSON object a segment encodes; NULL with *oom false when it is not one. */
static json_t *segment_object(const char *seg, size_t len, bool *oom)
{
	size_t n;
	unsigned char *raw = b64url_decode(seg, len, &n);
	json_t *js;

	*oom = raw == NULL;
	if (raw == NULL)
		return NULL;
	js = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (js != NULL && !json_is_object(js)) {
		json_decref(js);
		js = NULL;
	}
	return js;
}

/* ---- header and signature --------------------------------------------- */

static int check_alg(const struct fyn_token_config *cfg, json_t *header,
		char *reason, size_t len)
{
	const char *pinned = alg_names[cfg->alg];
	json_t *alg = json_object_get(header, "alg");
	const char *name;

	if (alg == NULL)
		return refuse(reason, len, "token header has no alg");
	if (!json_is_string(alg))
		return refuse(reason, len, "token header alg must be a string");
	name = json_string_value(alg);
	if (strcmp(name, pinned) == 0)
		return 0;
	if (word_is_valid(name, "", ALG_ECHO_MAX_BYTES))
		return refuse(reason, len, "algorithm %s not allowed (pinned %s)", name, pinned);
	return refuse(reason, len, "algorithm not allowed (pinned %s)", pinned);
}

static int check_header(const struct fyn_token_config *cfg, json_t *header,
		char *reason, size_t len)
{
	json_t *typ = json_object_get(header, "typ");

	if (check_alg(cfg, header, reason, len) != 0)
		return -1;
	if (typ != NULL && !(json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0))
		return refuse(reason, len, "token type must be JWT");
	if (json_object_get(header, "crit") != NULL)
		return refuse(reason, len, "critical header parameters are not supported");
	return 0;
}

/* libjwt verifies the signature with the pinned key. The alg check after a
 * successful decode also guards against libjwt 1.10 returning success
 * without verifying when it runs out of memory copying the key. */
static int check_signature(const struct fyn_token_config *cfg, const char *token,
		char *reason, size_t len)
{
	jwt_t *jwt = NULL;
	int rc = jwt_decode(&jwt, token, cfg->key, (int)cfg->key_len);

	if (rc != 0 || jwt == NULL) {
		ERR_clear_error(); /* keep mosquitto's TLS error queue clean */
		if (rc == ENOMEM)
			return refuse(reason, len, "out of memory");
		return refuse(reason, len, "bad signature");
	}
	rc = jwt_get_alg(jwt) == alg_libjwt[cfg->alg] ? 0 : refuse(reason, len, "bad signature");
	jwt_free(jwt);
	return rc;
}

/* Shape, header and signature; on success *payload holds the claims object. */
static int check_token(const struct fyn_token_config *cfg, const char *token,
		json_t **payload, char *reason, size_t len)
{
	struct jws_parts parts;
	json_t *header;
	bool oom;
	int rc;

	if (token == NULL || token[0] == '\0')
		return refuse(reason, len, "missing token");
	if (strnlen(token, FYN_TOKEN_MAX_BYTES + 1) > FYN_TOKEN_MAX_BYTES)
		return refuse(reason, len, "token too large (over %d bytes)", FYN_TOKEN_MAX_BYTES);
	rc = split_token(token, &parts);
	if (rc != 0)
		return refuse(reason, len, "malformed token (%s)", rc == -1 ?
				"expected three dot-separated parts" : "invalid base64url");
	header = segment_object(parts.seg[0], parts.len[0], &oom);
	if (header == NULL)
		return refuse(reason, len, "%s", oom ? "out of memory" : "token header is not a JSON object");
	rc = check_header(cfg, header, reason, len);
	json_decref(header);
	if (rc != 0)
		return -1;
	if (parts.len[2] == 0)
		return refuse(reason, len, "missing signature");
	*payload = segment_object(parts.seg[1], parts.len[1], &oom);
	if (*payload == NULL)
		return refuse(reason, len, "%s", oom ? "out of memory" : "token payload is not a JSON object");
	return check_signature(cfg, token, reason, len);
}

/* ---- claims ----------------------------------------------------------- */

static int claim_sub(json_t *claims, struct fyn_claims *out, char *reason, size_t len)
{
	json_t *sub = json_object_get(claims, "sub");

	if (sub == NULL)
		return refuse(reason, len, "missing claim sub");
	if (!json_is_string(sub) || !fyn_sub_is_valid(json_string_value(sub)))
		return refuse(reason, len, "claim sub must be a string of 1 to %d bytes without control characters",
				FYN_SUB_MAX_BYTES);
	out->sub = strdup(json_string_value(sub));
	return out->sub == NULL ? refuse(reason, len, "out of memory") : 0;
}

static int claim_role(json_t *claims, struct fyn_claims *out, char *reason, size_t len)
{
	json_t *role = json_object_get(claims, "role");

	if (role == NULL)
		return refuse(reason, len, "missing claim role");
	if (!json_is_string(role))
		return refuse(reason, len, "claim role must be a string");
	if (fyn_role_parse(json_string_value(role), &out->role) != 0)
		return refuse(reason, len, "unknown role");
	return 0;
}

/* 1: absent; 0: an integer, stored in *value; -1: present but ill-typed. */
static int integer_claim(json_t *claims, const char *name, json_int_t *value,
		char *reason, size_t len)
{
	json_t *v = json_object_get(claims, name);

	if (v == NULL)
		return 1;
	if (!json_is_integer(v))
		return refuse(reason, len, "claim %s must be an integer", name);
	*value = json_integer_value(v);
	return 0;
}

/* Expired when now >= exp + leeway, computed without overflow. */
static bool is_expired(json_int_t exp, long long now, int leeway)
{
	return exp <= LLONG_MAX - leeway && now >= exp + leeway;
}

/* Not yet valid while now + leeway < nbf, computed without overflow. */
static bool is_premature(json_int_t nbf, long long now, int leeway)
{
	return nbf >= LLONG_MIN + leeway && nbf - leeway > now;
}

static int claim_times(const struct fyn_token_config *cfg, json_t *claims, time_t now,
		struct fyn_claims *out, char *reason, size_t len)
{
	json_int_t exp = 0, nbf = 0;
	json_t *iat = json_object_get(claims, "iat");
	int rc = integer_claim(claims, "exp", &exp, reason, len);

	if (rc != 0)
		return rc > 0 ? refuse(reason, len, "missing claim exp") : -1;
	rc = integer_claim(claims, "nbf", &nbf, reason, len);
	if (rc < 0)
		return -1;
	if (iat != NULL && !json_is_number(iat))
		return refuse(reason, len, "claim iat must be a number");
	if (is_expired(exp, (long long)now, cfg->leeway_s))
		return refuse(reason, len, "token expired");
	if (rc == 0 && is_premature(nbf, (long long)now, cfg->leeway_s))
		return refuse(reason, len, "token not yet valid");
	out->exp = (time_t)exp;
	return 0;
}

static int claim_issuer(const struct fyn_token_config *cfg, json_t *claims,
		char *reason, size_t len)
{
	json_t *iss = json_object_get(claims, "iss");

	if (cfg->issuer == NULL)
		return 0;
	if (iss == NULL)
		return refuse(reason, len, "missing claim iss");
	if (!json_is_string(iss))
		return refuse(reason, len, "claim iss must be a string");
	if (strcmp(json_string_value(iss), cfg->issuer) != 0)
		return refuse(reason, len, "claim iss does not match the configured issuer");
	return 0;
}

/* 1: matches, 0: does not, -1: ill-typed (neither a string nor strings). */
static int audience_matches(json_t *aud, const char *want)
{
	size_t i;
	json_t *item;
	int found = 0;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return -1;
	json_array_foreach(aud, i, item) {
		if (!json_is_string(item))
			return -1;
		if (strcmp(json_string_value(item), want) == 0)
			found = 1;
	}
	return found;
}

static int claim_audience(const struct fyn_token_config *cfg, json_t *claims,
		char *reason, size_t len)
{
	json_t *aud = json_object_get(claims, "aud");
	int match;

	if (cfg->audience == NULL)
		return 0;
	if (aud == NULL)
		return refuse(reason, len, "missing claim aud");
	match = audience_matches(aud, cfg->audience);
	if (match < 0)
		return refuse(reason, len, "claim aud must be a string or an array of strings");
	if (match == 0)
		return refuse(reason, len, "claim aud does not include the configured audience");
	return 0;
}

static bool restaurants_well_typed(json_t *list)
{
	size_t i;
	json_t *item;

	if (!json_is_array(list))
		return false;
	json_array_foreach(list, i, item) {
		if (!json_is_string(item) || !fyn_restaurant_id_is_valid(json_string_value(item)))
			return false;
	}
	return true;
}

static int copy_restaurants(json_t *list, struct fyn_claims *out)
{
	size_t i, n = json_array_size(list);

	if (n == 0)
		return 0;
	out->restaurants = calloc(n, sizeof(*out->restaurants));
	if (out->restaurants == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		out->restaurants[i] = strdup(json_string_value(json_array_get(list, i)));
		if (out->restaurants[i] == NULL)
			return -1;
		out->restaurant_count = i + 1;
	}
	return 0;
}

static int claim_restaurants(json_t *claims, struct fyn_claims *out, char *reason, size_t len)
{
	json_t *list = json_object_get(claims, "restaurants");
	bool optional = out->role == FYN_ROLE_PLATFORM_OWNER;

	if (list == NULL)
		return optional ? 0 : refuse(reason, len, "missing claim restaurants");
	if (!restaurants_well_typed(list))
		return refuse(reason, len, "claim restaurants must be an array of restaurant ids");
	if (json_array_size(list) == 0 && !optional)
		return refuse(reason, len, "claim restaurants must not be empty");
	if (json_array_size(list) > FYN_TOKEN_MAX_RESTAURANTS)
		return refuse(reason, len, "claim restaurants has more than %d entries",
				FYN_TOKEN_MAX_RESTAURANTS);
	return copy_restaurants(list, out) != 0 ? refuse(reason, len, "out of memory") : 0;
}

static int read_claims(const struct fyn_token_config *cfg, json_t *claims, time_t now,
		const char *username, struct fyn_claims *out, char *reason, size_t len)
{
	if (claim_sub(claims, out, reason, len) != 0 ||
	    claim_role(claims, out, reason, len) != 0 ||
	    claim_times(cfg, claims, now, out, reason, len) != 0 ||
	    claim_issuer(cfg, claims, reason, len) != 0 ||
	    claim_audience(cfg, claims, reason, len) != 0 ||
	    claim_restaurants(claims, out, reason, len) != 0)
		return -1;
	if (username != NULL && (out->sub == NULL || strcmp(username, out->sub) != 0))
		return refuse(reason, len, "username does not match sub");
	return 0;
}

int fyn_token_verify(const struct fyn_token_config *cfg, const char *token,
		const char *username, time_t now, struct fyn_claims *out,
		char *reason, size_t reasonlen)
{
	struct fyn_claims claims = {0};
	json_t *payload = NULL;
	int rc;

	if (out == NULL)
		return refuse(reason, reasonlen, "no claims to fill");
	memset(out, 0, sizeof(*out));
	if (!config_is_usable(cfg))
		return refuse(reason, reasonlen, "token verification is not configured");
	rc = check_token(cfg, token, &payload, reason, reasonlen);
	if (rc == 0)
		rc = read_claims(cfg, payload, now, username, &claims, reason, reasonlen);
	json_decref(payload);
	if (rc != 0) {
		fyn_claims_clear(&claims);
		return -1;
	}
	*out = claims;
	return 0;
}
