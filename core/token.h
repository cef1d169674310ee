/*
 * token.h: verifying the JWT a client presents as its MQTT password.
 *
 * Pure C on top of libjwt 1.x and jansson; no mosquitto types inside, so the
 * checks are unit-testable without a broker. libjwt 1.x does not enforce the
 * algorithm nor the time claims, so everything the contract asks for is
 * checked here: the pinned algorithm (never "none", never HS256 keyed with an
 * RSA public key), the signature, exp, nbf, iss/aud when configured, the
 * claim types, the role and the restaurant ids.
 */
#ifndef FYNSYNC_TOKEN_H
#define FYNSYNC_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "acl.h"   /* enum fyn_role */

/* Limits of the contract as implemented here. */
#define FYN_TOKEN_MAX_BYTES 8192          /* longer tokens are refused unread */
#define FYN_TOKEN_MAX_RESTAURANTS 256     /* entries of the restaurants claim */
#define FYN_SUB_MAX_BYTES 128             /* sub: 1..128 bytes, no control chars */
#define FYN_HS256_MIN_SECRET_BYTES 32     /* shortest accepted HS256 secret */
#define FYN_TOKEN_MAX_KEY_BYTES 65536     /* largest accepted key file */
#define FYN_TOKEN_MAX_LEEWAY_S 3600       /* largest accepted clock-skew leeway */

enum fyn_token_alg { FYN_ALG_HS256, FYN_ALG_RS256, FYN_ALG_ES256 };

/* What the hub needs to verify tokens; owned by the caller of
 * fyn_token_config_load, released with fyn_token_config_clear. */
struct fyn_token_config {
	enum fyn_token_alg alg;
	unsigned char *key;     /* secret bytes (HS256) or PEM public key */
	size_t key_len;
	char *issuer;           /* NULL: not checked */
	char *audience;         /* NULL: not checked */
	int leeway_s;           /* tolerated clock skew for exp and nbf */
};

/* The verified identity. All strings are heap copies owned by the struct. */
struct fyn_claims {
	char *sub;
	enum fyn_role role;
	char **restaurants;      /* empty for platform_owner without the claim */
	size_t restaurant_count;
	time_t exp;
};

/* Reads key_file and fills cfg. alg is "HS256", "RS256" or "ES256".
 * Returns 0, or -1 with a message in err naming the file and the problem.
 * HS256: the secret is the file's bytes exactly as stored (a trailing newline
 * is part of the secret; fynsync-token reads the file the same way), at least
 * FYN_HS256_MIN_SECRET_BYTES long. RS256/ES256: a PEM "PUBLIC KEY" holding an
 * RSA key of at least 2048 bits, or an EC key on P-256, respectively.
 * issuer/audience NULL or "" mean "not checked"; leeway_s must be within
 * 0..FYN_TOKEN_MAX_LEEWAY_S. cfg's previous contents are not released; on
 * failure cfg is left zeroed, so fyn_token_config_clear is always safe. */
int fyn_token_config_load(struct fyn_token_config *cfg, const char *alg,
		const char *key_file, const char *issuer, const char *audience,
		int leeway_s, char *err, size_t errlen);
void fyn_token_config_clear(struct fyn_token_config *cfg);

/* Verifies token at time now. username may be NULL (then it is not checked);
 * when present it must equal sub. Returns 0 and fills out, or -1 with a
 * human-readable reason (never containing the token) in reason. On failure
 * *out is zeroed, so fyn_claims_clear on it is always safe. A token expires
 * when now >= exp + leeway and is not yet valid while now + leeway < nbf.
 * exp and nbf must be JSON integers; iat, if present, any JSON number. */
int fyn_token_verify(const struct fyn_token_config *cfg, const char *token,
		const char *username, time_t now, struct fyn_claims *out,
		char *reason, size_t reasonlen);
void fyn_claims_clear(struct fyn_claims *claims);

/* Literal membership in the restaurants claim (no implicit platform_owner
 * access: that is the ACL's decision). */
bool fyn_claims_has_restaurant(const struct fyn_claims *claims, const char *rid);

/* Identifier rules from the contract. */
bool fyn_client_id_is_valid(const char *client_id);       /* [A-Za-z0-9._-]{1,64} */
bool fyn_restaurant_id_is_valid(const char *rid);         /* [A-Za-z0-9_-]{1,64}, never "platform" */
bool fyn_sub_is_valid(const char *sub);                   /* 1..FYN_SUB_MAX_BYTES, no control chars */

#endif
