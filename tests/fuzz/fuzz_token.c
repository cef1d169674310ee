/*
 * fuzz_token.c: libFuzzer target for JWT verification (core/token.c).
 *
 * Each input is verified twice as an HS256 token: as it is (the signature
 * almost never holds, so this exercises splitting, decoding and the header
 * checks before it), and re-signed: its header and claims parts are
 * base64url-decoded, re-encoded and signed with the secret, so the claim
 * checks behind the signature are reached too. The secret is the corpus's
 * (tests/corpus/manifest.json), and so are the seeds (tests/corpus/token).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

#define SECRET "fynsync-corpus-secret-0123456789abcdef"
#define NOW 1764000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_encode(const unsigned char *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0)
			| (i + 2 < len ? in[i + 2] : 0);
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (i + 1 < len) {
			out[o++] = alphabet[v >> 6 & 63];
		}
		if (i + 2 < len) {
			out[o++] = alphabet[v & 63];
		}
	}
	return o;
}

/* Decodes what it can of a base64url text (stops at the first other byte). */
static size_t b64url_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned v = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		const char *at = memchr(alphabet, in[i], 64);
		if (!at || in[i] == '\0') {
			break;
		}
		v = v << 6 | (unsigned)(at - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits & 0xFF);
		}
	}
	return o;
}

static void verify(const struct fyn_token_config *cfg, const char *token)
{
	struct fyn_claims claims;
	char reason[256];
	int rc = fyn_token_verify(cfg, token, NULL, NOW, &claims, reason, sizeof(reason));
	if (rc == 0 && (!claims.sub || !fyn_sub_is_valid(claims.sub) || claims.exp <= NOW)) {
		abort();
	}
	if (rc != 0 && (reason[0] == '\0' || claims.sub)) {
		abort();
	}
	for (size_t i = 0; rc == 0 && i < claims.restaurant_count; i++) {
		if (!fyn_restaurant_id_is_valid(claims.restaurants[i])) {
			abort();
		}
	}
	fyn_claims_clear(&claims);
}

/* header.claims of the input, decoded and re-encoded, signed with SECRET. */
static char *resigned(const char *token, size_t size)
{
	const char *dot = memchr(token, '.', size);
	size_t header_len, claims_len, raw_len, at = 0;
	const char *claims_part;
	unsigned char *raw = malloc(size + 1), mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	char *out = malloc(2 * size + 128);
	const char *end;

	if (!dot || !raw || !out) {
		free(raw);
		free(out);
		return NULL;
	}
	claims_part = dot + 1;
	end = memchr(claims_part, '.', size - (size_t)(claims_part - token));
	header_len = (size_t)(dot - token);
	claims_len = end ? (size_t)(end - claims_part) : size - (size_t)(claims_part - token);
	raw_len = b64url_decode(token, header_len, raw);
	at = b64url_encode(raw, raw_len, out);
	out[at++] = '.';
	raw_len = b64url_decode(claims_part, claims_len, raw);
	at += b64url_encode(raw, raw_len, out + at);
	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)out, at, mac, &mac_len);
	out[at++] = '.';
	at += b64url_encode(mac, mac_len, out + at);
	out[at] = '\0';
	free(raw);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fyn_token_config cfg = { .alg = FYN_ALG_HS256, .key = (unsigned char *)SECRET,
		.key_len = sizeof(SECRET) - 1 };
	char *token = malloc(size + 1), *again;

	if (!token) {
		return 0;
	}
	memcpy(token, data, size);
	token[size] = '\0';
	verify(&cfg, token);
	again = resigned(token, strlen(token));
	if (again) {
		verify(&cfg, again);
		cfg.audience = "pos";
		cfg.issuer = "fynsync";
		verify(&cfg, again);
		free(again);
	}
	free(token);
	return 0;
}
