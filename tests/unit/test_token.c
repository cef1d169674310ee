/*
 * test_token.c: unit tests for core/token.c, the JWT verification behind
 * CONNECT. The heart is a table of forged, broken and valid tokens built here
 * at run time: RSA and EC key pairs come from OpenSSL, tokens are signed with
 * libjwt or assembled by hand (raw header JSON, HMAC-SHA256, empty signature),
 * then optionally tampered with. Each row names the verifier configuration,
 * the verification time and either acceptance or a phrase of the reason.
 * Further tests cover size limits, configuration loading and the identifier
 * rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "token.h"

#define NOW 1800000000L
#define SECRET "fynsync-unit-test-secret-0123456789abcdef\n"
#define OTHER_SECRET "another-secret-of-enough-length-0123456789"

/* Claim fragments; times are relative to NOW. */
#define STAFF "\"sub\":\"till-2\",\"role\":\"staff\",\"restaurants\":[\"r1\"]"
#define EXP "\"exp\":1800003600"
#define VALID "{" STAFF "," EXP "}"
#define WITH(fragment) "{" STAFF "," EXP "," fragment "}"
#define ROLE_EXP(role) "{\"sub\":\"u1\",\"role\":\"" role "\"," EXP
#define OWNER_EXP ROLE_EXP("platform_owner")
#define HS_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

enum cfg_id { CFG_HS, CFG_HS_LEEWAY, CFG_HS_ISS_AUD, CFG_RS, CFG_ES, CFG_COUNT };

/* How a row's token is signed. Rows with a header are assembled by hand
 * (only HMAC or no signature); rows without one are signed by libjwt. */
enum signer { SIGN_HS, SIGN_HS_RSA_PUB, SIGN_RS, SIGN_ES, SIGN_NONE };

enum mutation { MUT_NONE, MUT_FLIP_SIG, MUT_SWAP_PAYLOAD, MUT_DROP_SIG };

struct token_case {
	const char *name;
	enum cfg_id cfg;
	enum signer signer;
	const char *header;   /* NULL: libjwt's own header */
	const char *claims;   /* payload JSON text */
	const char *raw;      /* a literal token instead of a built one */
	enum mutation mutation;
	const char *username;
	long at;              /* verification time, seconds after NOW */
	const char *want;     /* NULL: accepted; else part of the reason */
};

/* Keys and configurations shared by every test. */
static struct {
	char dir[64];
	char *rsa_pub, *rsa_priv, *ec_pub, *ec_priv;
	struct fyn_token_config cfg[CFG_COUNT];
} fx;

static const struct token_case cases[] = {
	/* accepted */
	{"hs256 valid", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_NONE, NULL, 0, NULL},
	{"rs256 valid", CFG_RS, SIGN_RS, NULL, VALID, NULL, MUT_NONE, NULL, 0, NULL},
	{"es256 valid", CFG_ES, SIGN_ES, NULL, VALID, NULL, MUT_NONE, NULL, 0, NULL},
	{"hand-built hs256 valid", CFG_HS, SIGN_HS, HS_HEADER, VALID, NULL, MUT_NONE, NULL, 0, NULL},
	{"header without typ", CFG_HS, SIGN_HS, "{\"alg\":\"HS256\"}", VALID, NULL, MUT_NONE, NULL, 0, NULL},
	{"typ in lower case", CFG_HS, SIGN_HS, "{\"alg\":\"HS256\",\"typ\":\"jwt\"}", VALID, NULL, MUT_NONE, NULL, 0, NULL},
	{"platform owner without restaurants", CFG_HS, SIGN_HS, NULL, OWNER_EXP "}", NULL, MUT_NONE, NULL, 0, NULL},
	{"platform owner with empty restaurants", CFG_HS, SIGN_HS, NULL, OWNER_EXP ",\"restaurants\":[]}", NULL, MUT_NONE, NULL, 0, NULL},
	{"restaurant owner", CFG_HS, SIGN_HS, NULL, ROLE_EXP("restaurant_owner") ",\"restaurants\":[\"r1\",\"r-2\",\"R_3\"]}", NULL, MUT_NONE, NULL, 0, NULL},
	{"manager", CFG_RS, SIGN_RS, NULL, ROLE_EXP("manager") ",\"restaurants\":[\"r1\"]}", NULL, MUT_NONE, NULL, 0, NULL},
	{"kitchen", CFG_ES, SIGN_ES, NULL, ROLE_EXP("kitchen") ",\"restaurants\":[\"r1\"]}", NULL, MUT_NONE, NULL, 0, NULL},
	{"username equals sub", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_NONE, "till-2", 0, NULL},
	{"iat as a real number", CFG_HS, SIGN_HS, NULL, WITH("\"iat\":1799999999.5"), NULL, MUT_NONE, NULL, 0, NULL},
	{"iss and aud ignored when not configured", CFG_HS, SIGN_HS, NULL, WITH("\"iss\":7,\"aud\":false"), NULL, MUT_NONE, NULL, 0, NULL},
	{"iss and aud match", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"iss\":\"fynlo-auth\",\"aud\":\"fynsync\""), NULL, MUT_NONE, NULL, 0, NULL},
	{"aud array contains", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"iss\":\"fynlo-auth\",\"aud\":[\"pos\",\"fynsync\"]"), NULL, MUT_NONE, NULL, 0, NULL},
	{"one second before exp", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_NONE, NULL, 3599, NULL},
	{"exp within leeway", CFG_HS_LEEWAY, SIGN_HS, NULL, VALID, NULL, MUT_NONE, NULL, 3629, NULL},
	{"nbf equal to now", CFG_HS, SIGN_HS, NULL, WITH("\"nbf\":1800000000"), NULL, MUT_NONE, NULL, 0, NULL},
	{"nbf within leeway", CFG_HS_LEEWAY, SIGN_HS, NULL, WITH("\"nbf\":1800000030"), NULL, MUT_NONE, NULL, 0, NULL},

	/* algorithm */
	{"alg none, no signature", CFG_HS, SIGN_NONE, "{\"alg\":\"none\",\"typ\":\"JWT\"}", VALID, NULL, MUT_NONE, NULL, 0, "algorithm none not allowed (pinned HS256)"},
	{"alg none with an hmac", CFG_HS, SIGN_HS, "{\"alg\":\"none\"}", VALID, NULL, MUT_NONE, NULL, 0, "algorithm none not allowed"},
	{"alg NONE", CFG_RS, SIGN_NONE, "{\"alg\":\"NONE\"}", VALID, NULL, MUT_NONE, NULL, 0, "algorithm NONE not allowed (pinned RS256)"},
	{"alg in lower case", CFG_HS, SIGN_HS, "{\"alg\":\"hs256\"}", VALID, NULL, MUT_NONE, NULL, 0, "algorithm hs256 not allowed (pinned HS256)"},
	{"rs256 token, hs256 pinned", CFG_HS, SIGN_RS, NULL, VALID, NULL, MUT_NONE, NULL, 0, "algorithm RS256 not allowed (pinned HS256)"},
	{"es256 token, rs256 pinned", CFG_RS, SIGN_ES, NULL, VALID, NULL, MUT_NONE, NULL, 0, "algorithm ES256 not allowed (pinned RS256)"},
	{"hs256 token, es256 pinned", CFG_ES, SIGN_HS, NULL, VALID, NULL, MUT_NONE, NULL, 0, "algorithm HS256 not allowed (pinned ES256)"},
	{"hs256 keyed with the rsa public key", CFG_RS, SIGN_HS_RSA_PUB, NULL, VALID, NULL, MUT_NONE, NULL, 0, "algorithm HS256 not allowed (pinned RS256)"},
	{"rs256 header, hmac with the rsa public key", CFG_RS, SIGN_HS_RSA_PUB, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", VALID, NULL, MUT_NONE, NULL, 0, "bad signature"},
	{"no alg", CFG_HS, SIGN_HS, "{\"typ\":\"JWT\"}", VALID, NULL, MUT_NONE, NULL, 0, "token header has no alg"},
	{"alg not a string", CFG_HS, SIGN_HS, "{\"alg\":256}", VALID, NULL, MUT_NONE, NULL, 0, "token header alg must be a string"},
	{"alg with a newline is not echoed", CFG_HS, SIGN_HS, "{\"alg\":\"HS256\\nX\"}", VALID, NULL, MUT_NONE, NULL, 0, "algorithm not allowed (pinned HS256)"},
	{"duplicate alg", CFG_HS, SIGN_HS, "{\"alg\":\"HS256\",\"alg\":\"none\"}", VALID, NULL, MUT_NONE, NULL, 0, "token header is not a JSON object"},
	{"typ JWS", CFG_HS, SIGN_HS, "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", VALID, NULL, MUT_NONE, NULL, 0, "token type must be JWT"},
	{"typ not a string", CFG_HS, SIGN_HS, "{\"alg\":\"HS256\",\"typ\":1}", VALID, NULL, MUT_NONE, NULL, 0, "token type must be JWT"},
	{"crit header", CFG_HS, SIGN_HS, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", VALID, NULL, MUT_NONE, NULL, 0, "critical header"},
	{"header a json array", CFG_HS, SIGN_HS, "[\"HS256\"]", VALID, NULL, MUT_NONE, NULL, 0, "token header is not a JSON object"},
	{"header not json", CFG_HS, SIGN_HS, "alg=HS256", VALID, NULL, MUT_NONE, NULL, 0, "token header is not a JSON object"},

	/* signature */
	{"hs256 signature byte flipped", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_FLIP_SIG, NULL, 0, "bad signature"},
	{"rs256 signature byte flipped", CFG_RS, SIGN_RS, NULL, VALID, NULL, MUT_FLIP_SIG, NULL, 0, "bad signature"},
	{"es256 signature byte flipped", CFG_ES, SIGN_ES, NULL, VALID, NULL, MUT_FLIP_SIG, NULL, 0, "bad signature"},
	{"hs256 payload swapped", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_SWAP_PAYLOAD, NULL, 0, "bad signature"},
	{"rs256 payload swapped", CFG_RS, SIGN_RS, NULL, VALID, NULL, MUT_SWAP_PAYLOAD, NULL, 0, "bad signature"},
	{"es256 payload swapped", CFG_ES, SIGN_ES, NULL, VALID, NULL, MUT_SWAP_PAYLOAD, NULL, 0, "bad signature"},
	{"hs256 signature dropped", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_DROP_SIG, NULL, 0, "missing signature"},

	/* shape */
	{"empty token", CFG_HS, SIGN_HS, NULL, NULL, "", MUT_NONE, NULL, 0, "missing token"},
	{"one part", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9", MUT_NONE, NULL, 0, "three dot-separated parts"},
	{"two parts", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9.e30", MUT_NONE, NULL, 0, "three dot-separated parts"},
	{"four parts", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9.e30.AAAA.AAAA", MUT_NONE, NULL, 0, "three dot-separated parts"},
	{"only dots", CFG_HS, SIGN_HS, NULL, NULL, "..", MUT_NONE, NULL, 0, "three dot-separated parts"},
	{"empty payload", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9..AAAA", MUT_NONE, NULL, 0, "three dot-separated parts"},
	{"invalid base64url character", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9.e30!.AAAA", MUT_NONE, NULL, 0, "invalid base64url"},
	{"standard base64 alphabet", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9.e30.AA+/", MUT_NONE, NULL, 0, "invalid base64url"},
	{"base64 padding", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9.e30=.AAAA", MUT_NONE, NULL, 0, "invalid base64url"},
	{"impossible base64 length", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9.e30.AAAAA", MUT_NONE, NULL, 0, "invalid base64url"},
	{"non-canonical trailing bits (3 digits)", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9.e31.AAAA", MUT_NONE, NULL, 0, "invalid base64url"},
	{"non-canonical trailing bits (2 digits)", CFG_HS, SIGN_HS, NULL, NULL, "eyJhbGciOiJIUzI1NiJ9.e30.AB", MUT_NONE, NULL, 0, "invalid base64url"},
	{"payload not json", CFG_HS, SIGN_HS, HS_HEADER, "sub=till-2", NULL, MUT_NONE, NULL, 0, "token payload is not a JSON object"},
	{"payload a json array", CFG_HS, SIGN_HS, HS_HEADER, "[" VALID "]", NULL, MUT_NONE, NULL, 0, "token payload is not a JSON object"},
	{"payload with a duplicate role", CFG_HS, SIGN_HS, HS_HEADER, WITH("\"role\":\"platform_owner\""), NULL, MUT_NONE, NULL, 0, "token payload is not a JSON object"},

	/* sub and username */
	{"missing sub", CFG_HS, SIGN_HS, NULL, "{\"role\":\"staff\",\"restaurants\":[\"r1\"]," EXP "}", NULL, MUT_NONE, NULL, 0, "missing claim sub"},
	{"sub a number", CFG_HS, SIGN_HS, NULL, "{\"sub\":42,\"role\":\"staff\",\"restaurants\":[\"r1\"]," EXP "}", NULL, MUT_NONE, NULL, 0, "claim sub must be"},
	{"sub empty", CFG_HS, SIGN_HS, NULL, "{\"sub\":\"\",\"role\":\"staff\",\"restaurants\":[\"r1\"]," EXP "}", NULL, MUT_NONE, NULL, 0, "claim sub must be"},
	{"sub with a control character", CFG_HS, SIGN_HS, NULL, "{\"sub\":\"a\\u0007b\",\"role\":\"staff\",\"restaurants\":[\"r1\"]," EXP "}", NULL, MUT_NONE, NULL, 0, "claim sub must be"},
	{"sub with a C1 control character", CFG_HS, SIGN_HS, NULL, "{\"sub\":\"a\\u0085b\",\"role\":\"staff\",\"restaurants\":[\"r1\"]," EXP "}", NULL, MUT_NONE, NULL, 0, "claim sub must be"},
	{"username differs from sub", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_NONE, "till-3", 0, "username does not match sub"},
	{"empty username", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_NONE, "", 0, "username does not match sub"},

	/* role */
	{"missing role", CFG_HS, SIGN_HS, NULL, "{\"sub\":\"u1\",\"restaurants\":[\"r1\"]," EXP "}", NULL, MUT_NONE, NULL, 0, "missing claim role"},
	{"role not a string", CFG_HS, SIGN_HS, NULL, "{\"sub\":\"u1\",\"role\":[\"staff\"],\"restaurants\":[\"r1\"]," EXP "}", NULL, MUT_NONE, NULL, 0, "claim role must be a string"},
	{"unknown role", CFG_HS, SIGN_HS, NULL, ROLE_EXP("admin") ",\"restaurants\":[\"r1\"]}", NULL, MUT_NONE, NULL, 0, "unknown role"},
	{"role in wrong case", CFG_HS, SIGN_HS, NULL, ROLE_EXP("Staff") ",\"restaurants\":[\"r1\"]}", NULL, MUT_NONE, NULL, 0, "unknown role"},

	/* times */
	{"missing exp", CFG_HS, SIGN_HS, NULL, "{" STAFF "}", NULL, MUT_NONE, NULL, 0, "missing claim exp"},
	{"exp a string", CFG_HS, SIGN_HS, NULL, "{" STAFF ",\"exp\":\"1800003600\"}", NULL, MUT_NONE, NULL, 0, "claim exp must be an integer"},
	{"exp a real number", CFG_HS, SIGN_HS, NULL, "{" STAFF ",\"exp\":1800003600.0}", NULL, MUT_NONE, NULL, 0, "claim exp must be an integer"},
	{"exp a boolean", CFG_HS, SIGN_HS, NULL, "{" STAFF ",\"exp\":true}", NULL, MUT_NONE, NULL, 0, "claim exp must be an integer"},
	{"exp null", CFG_HS, SIGN_HS, NULL, "{" STAFF ",\"exp\":null}", NULL, MUT_NONE, NULL, 0, "claim exp must be an integer"},
	{"exp exactly now", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_NONE, NULL, 3600, "token expired"},
	{"exp long past", CFG_HS, SIGN_HS, NULL, VALID, NULL, MUT_NONE, NULL, 86400, "token expired"},
	{"exp at the end of the leeway", CFG_HS_LEEWAY, SIGN_HS, NULL, VALID, NULL, MUT_NONE, NULL, 3630, "token expired"},
	{"exp at the integer limit with leeway", CFG_HS_LEEWAY, SIGN_HS, NULL, "{" STAFF ",\"exp\":9223372036854775807}", NULL, MUT_NONE, NULL, 0, NULL},
	{"rs256 expired", CFG_RS, SIGN_RS, NULL, VALID, NULL, MUT_NONE, NULL, 3600, "token expired"},
	{"es256 expired", CFG_ES, SIGN_ES, NULL, VALID, NULL, MUT_NONE, NULL, 3600, "token expired"},
	{"nbf in the future", CFG_HS, SIGN_HS, NULL, WITH("\"nbf\":1800000100"), NULL, MUT_NONE, NULL, 0, "token not yet valid"},
	{"nbf one second ahead", CFG_HS, SIGN_HS, NULL, WITH("\"nbf\":1800000001"), NULL, MUT_NONE, NULL, 0, "token not yet valid"},
	{"nbf beyond the leeway", CFG_HS_LEEWAY, SIGN_HS, NULL, WITH("\"nbf\":1800000031"), NULL, MUT_NONE, NULL, 0, "token not yet valid"},
	{"nbf a string", CFG_HS, SIGN_HS, NULL, WITH("\"nbf\":\"1800000000\""), NULL, MUT_NONE, NULL, 0, "claim nbf must be an integer"},
	{"nbf a real number", CFG_HS, SIGN_HS, NULL, WITH("\"nbf\":1.5"), NULL, MUT_NONE, NULL, 0, "claim nbf must be an integer"},
	{"iat a string", CFG_HS, SIGN_HS, NULL, WITH("\"iat\":\"yesterday\""), NULL, MUT_NONE, NULL, 0, "claim iat must be a number"},

	/* restaurants */
	{"missing restaurants", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") "}", NULL, MUT_NONE, NULL, 0, "missing claim restaurants"},
	{"manager without restaurants", CFG_HS, SIGN_HS, NULL, ROLE_EXP("manager") "}", NULL, MUT_NONE, NULL, 0, "missing claim restaurants"},
	{"restaurants a string", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":\"r1\"}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"restaurants an object", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":{\"r1\":true}}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"restaurants contain platform", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":[\"r1\",\"platform\"]}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"restaurants contain a slash", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":[\"a/b\"]}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"restaurants contain a hash", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":[\"#\"]}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"restaurants contain a plus", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":[\"r+\"]}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"restaurants contain a dot", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":[\"r.1\"]}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"restaurants contain an empty id", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":[\"\"]}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"restaurants contain a number", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":[\"r1\",7]}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"restaurants empty for staff", CFG_HS, SIGN_HS, NULL, ROLE_EXP("staff") ",\"restaurants\":[]}", NULL, MUT_NONE, NULL, 0, "claim restaurants must not be empty"},
	{"platform owner, restaurants a string", CFG_HS, SIGN_HS, NULL, OWNER_EXP ",\"restaurants\":\"r1\"}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},
	{"platform owner, restaurants contain platform", CFG_HS, SIGN_HS, NULL, OWNER_EXP ",\"restaurants\":[\"platform\"]}", NULL, MUT_NONE, NULL, 0, "claim restaurants must be an array of restaurant ids"},

	/* issuer and audience */
	{"missing iss", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"aud\":\"fynsync\""), NULL, MUT_NONE, NULL, 0, "missing claim iss"},
	{"wrong iss", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"iss\":\"evil\",\"aud\":\"fynsync\""), NULL, MUT_NONE, NULL, 0, "claim iss does not match"},
	{"iss not a string", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"iss\":[\"fynlo-auth\"],\"aud\":\"fynsync\""), NULL, MUT_NONE, NULL, 0, "claim iss must be a string"},
	{"missing aud", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"iss\":\"fynlo-auth\""), NULL, MUT_NONE, NULL, 0, "missing claim aud"},
	{"wrong aud", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"iss\":\"fynlo-auth\",\"aud\":\"pos\""), NULL, MUT_NONE, NULL, 0, "claim aud does not include"},
	{"aud array without ours", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"iss\":\"fynlo-auth\",\"aud\":[\"pos\",\"kds\"]"), NULL, MUT_NONE, NULL, 0, "claim aud does not include"},
	{"aud array with a number", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"iss\":\"fynlo-auth\",\"aud\":[\"fynsync\",1]"), NULL, MUT_NONE, NULL, 0, "claim aud must be a string or an array of strings"},
	{"aud a number", CFG_HS_ISS_AUD, SIGN_HS, NULL, WITH("\"iss\":\"fynlo-auth\",\"aud\":1"), NULL, MUT_NONE, NULL, 0, "claim aud must be a string or an array of strings"},
};
#define CASE_COUNT (sizeof(cases) / sizeof(cases[0]))

/* ---- helpers ---------------------------------------------------------- */

static char *xstrdup(const char *s)
{
	char *copy = strdup(s);

	assert_non_null(copy);
	return copy;
}

static char *b64url(const void *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	size_t i, n = 0;
	int total;

	assert_non_null(out);
	total = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	for (i = 0; i < (size_t)total; i++) {
		if (out[i] != '=')
			out[n++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[n] = '\0';
	return out;
}

static char *join3(const char *a, const char *b, const char *c)
{
	size_t len = strlen(a) + strlen(b) + strlen(c) + 3;
	char *out = malloc(len);

	assert_non_null(out);
	snprintf(out, len, "%s.%s.%s", a, b, c);
	return out;
}

/* header.payload.HMAC-SHA256(key) or, with key NULL, an empty signature. */
static char *hand_built(const char *header, const char *claims, const char *key)
{
	char *h = b64url(header, strlen(header));
	char *p = b64url(claims, strlen(claims));
	char *input = join3(h, p, "");
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char *sig, *token;

	input[strlen(input) - 1] = '\0'; /* drop the third dot */
	if (key != NULL)
		assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key),
				(unsigned char *)input, strlen(input), mac, &mac_len));
	sig = b64url(mac, mac_len);
	token = join3(h, p, sig);
	free(h);
	free(p);
	free(input);
	free(sig);
	return token;
}

static char *libjwt_signed(jwt_alg_t alg, const char *key, const char *claims)
{
	jwt_t *jwt = NULL;
	char *token;

	assert_int_equal(jwt_new(&jwt), 0);
	assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
	assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)strlen(key)), 0);
	token = jwt_encode_str(jwt);
	jwt_free(jwt);
	assert_non_null(token);
	return token;
}

static const char *signer_key(enum signer signer)
{
	switch (signer) {
	case SIGN_HS: return SECRET;
	case SIGN_HS_RSA_PUB: return fx.rsa_pub;
	case SIGN_RS: return fx.rsa_priv;
	case SIGN_ES: return fx.ec_priv;
	default: return NULL;
	}
}

static jwt_alg_t signer_alg(enum signer signer)
{
	return signer == SIGN_RS ? JWT_ALG_RS256 : signer == SIGN_ES ? JWT_ALG_ES256 : JWT_ALG_HS256;
}

/* Replaces the payload of token with a platform_owner one, keeping the signature. */
static char *swap_payload(char *token)
{
	static const char forged[] = OWNER_EXP "}";
	char *first = strchr(token, '.');
	char *last = strrchr(token, '.');
	char *p = b64url(forged, strlen(forged));
	char *out;

	assert_true(first != NULL && last != first);
	*first = '\0';
	out = join3(token, p, last + 1);
	free(p);
	free(token);
	return out;
}

static char *mutate(char *token, enum mutation mutation)
{
	char *sig = strrchr(token, '.') + 1;

	switch (mutation) {
	case MUT_FLIP_SIG: sig[0] = sig[0] == 'A' ? 'B' : 'A'; return token;
	case MUT_DROP_SIG: sig[0] = '\0'; return token;
	case MUT_SWAP_PAYLOAD: return swap_payload(token);
	default: return token;
	}
}

static char *build_token(const struct token_case *c)
{
	if (c->raw != NULL)
		return xstrdup(c->raw);
	if (c->header != NULL)
		return mutate(hand_built(c->header, c->claims, signer_key(c->signer)), c->mutation);
	return mutate(libjwt_signed(signer_alg(c->signer), signer_key(c->signer), c->claims),
			c->mutation);
}

static void assert_contains(const char *text, const char *part)
{
	if (strstr(text, part) == NULL) {
		print_error("\"%s\" does not contain \"%s\"\n", text, part);
		fail();
	}
}

static void assert_zeroed(const struct fyn_claims *claims)
{
	assert_null(claims->sub);
	assert_null(claims->restaurants);
	assert_int_equal(claims->restaurant_count, 0);
}

/* No part of the token (nor the whole) appears in the reason. */
static void assert_reason_hides(const char *reason, const char *token)
{
	char *copy = xstrdup(token);
	char *save = NULL;
	const char *part;

	for (part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
		if (strlen(part) >= 4 && strstr(reason, part) != NULL) {
			print_error("reason \"%s\" quotes the token\n", reason);
			fail();
		}
	}
	free(copy);
}

/* The claims returned match the row's payload. */
static void assert_claims_match(const struct fyn_claims *got, const char *claims_json)
{
	json_t *want = json_loads(claims_json, 0, NULL);
	json_t *list;

	assert_non_null(want);
	list = json_object_get(want, "restaurants");
	assert_string_equal(got->sub, json_string_value(json_object_get(want, "sub")));
	assert_string_equal(fyn_role_name(got->role), json_string_value(json_object_get(want, "role")));
	assert_int_equal(got->exp, json_integer_value(json_object_get(want, "exp")));
	assert_int_equal(got->restaurant_count, json_array_size(list));
	for (size_t i = 0; i < got->restaurant_count; i++)
		assert_string_equal(got->restaurants[i], json_string_value(json_array_get(list, i)));
	json_decref(want);
}

static int verify(enum cfg_id cfg, const char *token, const char *username, long at,
		struct fyn_claims *out, char *reason, size_t len)
{
	return fyn_token_verify(&fx.cfg[cfg], token, username, (time_t)(NOW + at), out, reason, len);
}

/* ---- the table -------------------------------------------------------- */

static void run_case(void **state)
{
	const struct token_case *c = *state;
	struct fyn_claims claims = {0};
	char reason[256] = "";
	char *token = build_token(c);
	int rc = verify(c->cfg, token, c->username, c->at, &claims, reason, sizeof(reason));

	if (c->want == NULL) {
		if (rc != 0)
			print_error("refused: %s\n", reason);
		assert_int_equal(rc, 0);
		assert_claims_match(&claims, c->claims);
	} else {
		assert_int_equal(rc, -1);
		assert_contains(reason, c->want);
		assert_reason_hides(reason, token);
		assert_zeroed(&claims);
	}
	fyn_claims_clear(&claims);
	free(token);
}

/* ---- focused token tests ---------------------------------------------- */

static void test_claims_content(void **state)
{
	struct fyn_claims claims = {0};
	char *token = libjwt_signed(JWT_ALG_HS256, SECRET, ROLE_EXP("manager")
			",\"restaurants\":[\"r1\",\"r_2\"],\"iat\":1799999000}");

	(void)state;
	assert_int_equal(verify(CFG_HS, token, "u1", 0, &claims, NULL, 0), 0);
	assert_string_equal(claims.sub, "u1");
	assert_int_equal(claims.role, FYN_ROLE_MANAGER);
	assert_int_equal(claims.exp, NOW + 3600);
	assert_int_equal(claims.restaurant_count, 2);
	assert_true(fyn_claims_has_restaurant(&claims, "r_2"));
	assert_false(fyn_claims_has_restaurant(&claims, "r3"));
	assert_false(fyn_claims_has_restaurant(&claims, "r"));
	assert_false(fyn_claims_has_restaurant(&claims, NULL));
	fyn_claims_clear(&claims);
	assert_zeroed(&claims);
	fyn_claims_clear(&claims);
	free(token);
}

static void test_platform_owner_has_no_restaurants(void **state)
{
	struct fyn_claims claims = {0};
	char *token = libjwt_signed(JWT_ALG_HS256, SECRET, OWNER_EXP "}");

	(void)state;
	assert_int_equal(verify(CFG_HS, token, NULL, 0, &claims, NULL, 0), 0);
	assert_int_equal(claims.role, FYN_ROLE_PLATFORM_OWNER);
	assert_null(claims.restaurants);
	assert_int_equal(claims.restaurant_count, 0);
	assert_false(fyn_claims_has_restaurant(&claims, "r1"));
	fyn_claims_clear(&claims);
	free(token);
}

/* A staff token whose payload carries a "pad" claim of pad_len bytes. */
static char *padded_token(size_t pad_len)
{
	char *pad = malloc(pad_len + 1);
	json_t *claims = json_pack("{s:s, s:s, s:[s], s:I, s:s}", "sub", "till-2", "role", "staff",
			"restaurants", "r1", "exp", (json_int_t)(NOW + 3600), "pad", "");
	char *text, *token;

	assert_non_null(pad);
	assert_non_null(claims);
	memset(pad, 'x', pad_len);
	pad[pad_len] = '\0';
	assert_int_equal(json_object_set_new(claims, "pad", json_string(pad)), 0);
	text = json_dumps(claims, JSON_COMPACT);
	assert_non_null(text);
	token = libjwt_signed(JWT_ALG_HS256, SECRET, text);
	free(text);
	free(pad);
	json_decref(claims);
	return token;
}

static void test_size_limit_boundary(void **state)
{
	char reason[128] = "";
	struct fyn_claims claims = {0};
	char *fits = NULL, *token = NULL;
	size_t pad;

	(void)state;
	for (pad = 5800; token == NULL || strlen(token) <= FYN_TOKEN_MAX_BYTES; pad++) {
		free(fits);
		fits = token;
		token = padded_token(pad);
	}
	assert_non_null(fits);
	assert_true(strlen(fits) > FYN_TOKEN_MAX_BYTES - 4);
	assert_int_equal(verify(CFG_HS, fits, NULL, 0, &claims, reason, sizeof(reason)), 0);
	fyn_claims_clear(&claims);
	assert_int_equal(verify(CFG_HS, token, NULL, 0, &claims, reason, sizeof(reason)), -1);
	assert_contains(reason, "token too large");
	free(fits);
	free(token);
}

static void test_nine_kib_garbage(void **state)
{
	char reason[128] = "";
	struct fyn_claims claims = {0};
	char *token = malloc(9 * 1024 + 1);

	(void)state;
	assert_non_null(token);
	memset(token, 'a', 9 * 1024);
	token[9 * 1024] = '\0';
	token[100] = token[200] = '.';
	assert_int_equal(verify(CFG_HS, token, NULL, 0, &claims, reason, sizeof(reason)), -1);
	assert_contains(reason, "token too large");
	assert_zeroed(&claims);
	free(token);
}

/* A staff token listing count restaurants r0, r1, ... */
static char *token_with_restaurants(size_t count)
{
	json_t *list = json_array();
	json_t *claims = json_pack("{s:s, s:s, s:I}", "sub", "till-2", "role", "staff",
			"exp", (json_int_t)(NOW + 3600));
	char rid[24], *text, *token;

	assert_non_null(list);
	assert_non_null(claims);
	for (size_t i = 0; i < count; i++) {
		snprintf(rid, sizeof(rid), "r%zu", i);
		assert_int_equal(json_array_append_new(list, json_string(rid)), 0);
	}
	assert_int_equal(json_object_set_new(claims, "restaurants", list), 0);
	text = json_dumps(claims, JSON_COMPACT);
	assert_non_null(text);
	token = libjwt_signed(JWT_ALG_HS256, SECRET, text);
	free(text);
	json_decref(claims);
	return token;
}

static void test_restaurant_count_limit(void **state)
{
	char reason[128] = "";
	struct fyn_claims claims = {0};
	char *most = token_with_restaurants(FYN_TOKEN_MAX_RESTAURANTS);
	char *over = token_with_restaurants(FYN_TOKEN_MAX_RESTAURANTS + 1);

	(void)state;
	assert_int_equal(verify(CFG_HS, most, NULL, 0, &claims, reason, sizeof(reason)), 0);
	assert_int_equal(claims.restaurant_count, FYN_TOKEN_MAX_RESTAURANTS);
	assert_string_equal(claims.restaurants[255], "r255");
	fyn_claims_clear(&claims);
	assert_int_equal(verify(CFG_HS, over, NULL, 0, &claims, reason, sizeof(reason)), -1);
	assert_contains(reason, "more than 256");
	free(most);
	free(over);
}

/* A staff token with the given sub and restaurant id. */
static char *token_for(const char *sub, const char *rid)
{
	json_t *claims = json_pack("{s:s, s:s, s:[s], s:I}", "sub", sub, "role", "staff",
			"restaurants", rid, "exp", (json_int_t)(NOW + 3600));
	char *text, *token;

	assert_non_null(claims);
	text = json_dumps(claims, JSON_COMPACT);
	assert_non_null(text);
	token = libjwt_signed(JWT_ALG_HS256, SECRET, text);
	free(text);
	json_decref(claims);
	return token;
}

static int verify_token_for(const char *sub, const char *rid, char *reason, size_t len)
{
	struct fyn_claims claims = {0};
	char *token = token_for(sub, rid);
	int rc = verify(CFG_HS, token, NULL, 0, &claims, reason, len);

	fyn_claims_clear(&claims);
	free(token);
	return rc;
}

static void test_length_limits_in_claims(void **state)
{
	char sub[FYN_SUB_MAX_BYTES + 2], rid[66], reason[128] = "";

	(void)state;
	memset(sub, 's', sizeof(sub) - 1);
	sub[FYN_SUB_MAX_BYTES] = '\0';
	memset(rid, 'r', sizeof(rid) - 1);
	rid[64] = '\0';
	assert_int_equal(verify_token_for(sub, rid, reason, sizeof(reason)), 0);
	sub[FYN_SUB_MAX_BYTES] = 's';
	sub[FYN_SUB_MAX_BYTES + 1] = '\0';
	assert_int_equal(verify_token_for(sub, rid, reason, sizeof(reason)), -1);
	assert_contains(reason, "claim sub must be");
	rid[64] = 'r';
	rid[65] = '\0';
	assert_int_equal(verify_token_for("u1", rid, reason, sizeof(reason)), -1);
	assert_contains(reason, "claim restaurants must be an array of restaurant ids");
}

static void test_reason_buffer_handling(void **state)
{
	struct fyn_claims claims = {0};
	char tiny[8];
	char *token = libjwt_signed(JWT_ALG_HS256, OTHER_SECRET, VALID);

	(void)state;
	assert_int_equal(verify(CFG_HS, token, NULL, 0, &claims, NULL, 0), -1);
	memset(tiny, 'z', sizeof(tiny));
	assert_int_equal(verify(CFG_HS, token, NULL, 0, &claims, tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "bad sig");
	assert_int_equal(verify(CFG_HS, token, NULL, 0, &claims, tiny, 0), -1);
	assert_string_equal(tiny, "bad sig");
	free(token);
}

static void test_out_is_zeroed_on_failure(void **state)
{
	struct fyn_claims claims;
	char reason[128] = "";

	(void)state;
	memset(&claims, 0, sizeof(claims));
	claims.restaurant_count = 7;
	claims.role = FYN_ROLE_KITCHEN;
	claims.exp = 99;
	assert_int_equal(verify(CFG_HS, "x.y.z", NULL, 0, &claims, reason, sizeof(reason)), -1);
	assert_zeroed(&claims);
	assert_int_equal(claims.exp, 0);
	assert_int_equal(fyn_token_verify(&fx.cfg[CFG_HS], VALID, NULL, NOW, NULL, reason,
			sizeof(reason)), -1);
}

static void test_unusable_config_and_null_token(void **state)
{
	struct fyn_token_config zero = {0};
	struct fyn_claims claims = {0};
	char reason[128] = "";
	char *token = libjwt_signed(JWT_ALG_HS256, SECRET, VALID);

	(void)state;
	assert_int_equal(fyn_token_verify(&zero, token, NULL, NOW, &claims, reason, sizeof(reason)), -1);
	assert_contains(reason, "not configured");
	assert_int_equal(fyn_token_verify(NULL, token, NULL, NOW, &claims, reason, sizeof(reason)), -1);
	assert_contains(reason, "not configured");
	assert_int_equal(verify(CFG_HS, NULL, NULL, 0, &claims, reason, sizeof(reason)), -1);
	assert_contains(reason, "missing token");
	free(token);
}

/* ---- configuration loading -------------------------------------------- */

static char *write_file(const char *name, const void *data, size_t len)
{
	size_t plen = strlen(fx.dir) + strlen(name) + 2;
	char *path = malloc(plen);
	FILE *f;

	assert_non_null(path);
	snprintf(path, plen, "%s/%s", fx.dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void remove_file(char *path)
{
	assert_int_equal(unlink(path), 0);
	free(path);
}

/* Loads a config from a file holding text and returns the result; err gets the message. */
static int load_text(const char *alg, const char *text, int leeway, char *err, size_t len)
{
	struct fyn_token_config cfg;
	char *path = write_file("key", text, strlen(text));
	int rc;

	memset(&cfg, 0xa5, sizeof(cfg));
	rc = fyn_token_config_load(&cfg, alg, path, NULL, NULL, leeway, err, len);
	if (rc != 0) {
		assert_null(cfg.key);
		assert_null(cfg.issuer);
	}
	fyn_token_config_clear(&cfg);
	remove_file(path);
	return rc;
}

static char *public_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *copy;
	long len;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
	len = BIO_get_mem_data(bio, &data);
	copy = strndup(data, (size_t)len);
	assert_non_null(copy);
	BIO_free(bio);
	return copy;
}

static char *private_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *copy;
	long len;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
	len = BIO_get_mem_data(bio, &data);
	copy = strndup(data, (size_t)len);
	assert_non_null(copy);
	BIO_free(bio);
	return copy;
}

static void test_config_hs256_secret_bytes_as_is(void **state)
{
	struct fyn_token_config cfg = {0};
	char *path = write_file("secret", SECRET, strlen(SECRET));
	char err[256] = "";

	(void)state;
	assert_int_equal(fyn_token_config_load(&cfg, "HS256", path, "iss", "", 5, err, sizeof(err)), 0);
	assert_int_equal(cfg.alg, FYN_ALG_HS256);
	assert_int_equal(cfg.key_len, strlen(SECRET)); /* trailing newline kept */
	assert_memory_equal(cfg.key, SECRET, strlen(SECRET));
	assert_string_equal(cfg.issuer, "iss");
	assert_null(cfg.audience); /* "" means not checked */
	assert_int_equal(cfg.leeway_s, 5);
	fyn_token_config_clear(&cfg);
	assert_null(cfg.key);
	fyn_token_config_clear(&cfg);
	fyn_token_config_clear(NULL);
	remove_file(path);
}

static void test_config_hs256_secret_length(void **state)
{
	char err[256] = "";
	char secret[FYN_HS256_MIN_SECRET_BYTES + 1];

	(void)state;
	memset(secret, 'k', FYN_HS256_MIN_SECRET_BYTES);
	secret[FYN_HS256_MIN_SECRET_BYTES] = '\0';
	assert_int_equal(load_text("HS256", secret, 0, err, sizeof(err)), 0);
	secret[FYN_HS256_MIN_SECRET_BYTES - 1] = '\0';
	assert_int_equal(load_text("HS256", secret, 0, err, sizeof(err)), -1);
	assert_contains(err, "at least 32");
	assert_contains(err, fx.dir);
}

static void test_config_file_problems(void **state)
{
	struct fyn_token_config cfg = {0};
	char err[256] = "", missing[128];
	char *empty = write_file("empty", "", 0);

	(void)state;
	snprintf(missing, sizeof(missing), "%s/no-such-file", fx.dir);
	assert_int_equal(fyn_token_config_load(&cfg, "HS256", missing, NULL, NULL, 0, err, sizeof(err)), -1);
	assert_contains(err, missing);
	assert_int_equal(fyn_token_config_load(&cfg, "HS256", empty, NULL, NULL, 0, err, sizeof(err)), -1);
	assert_contains(err, empty);
	assert_contains(err, "empty");
	assert_int_equal(fyn_token_config_load(&cfg, "HS256", fx.dir, NULL, NULL, 0, err, sizeof(err)), -1);
	assert_contains(err, "cannot read key file");
	assert_contains(err, fx.dir);
	assert_int_equal(fyn_token_config_load(&cfg, "HS256", NULL, NULL, NULL, 0, err, sizeof(err)), -1);
	assert_contains(err, "no key file");
	assert_int_equal(fyn_token_config_load(NULL, "HS256", empty, NULL, NULL, 0, err, sizeof(err)), -1);
	assert_null(cfg.key);
	remove_file(empty);
}

static void test_config_oversize_file(void **state)
{
	char err[256] = "";
	char *big = malloc(FYN_TOKEN_MAX_KEY_BYTES + 2);

	(void)state;
	assert_non_null(big);
	memset(big, 'k', FYN_TOKEN_MAX_KEY_BYTES + 1);
	big[FYN_TOKEN_MAX_KEY_BYTES + 1] = '\0';
	assert_int_equal(load_text("HS256", big, 0, err, sizeof(err)), -1);
	assert_contains(err, "larger than 65536");
	big[FYN_TOKEN_MAX_KEY_BYTES] = '\0';
	assert_int_equal(load_text("HS256", big, 0, err, sizeof(err)), 0);
	free(big);
}

static void test_config_alg_and_leeway(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(load_text("HS512", SECRET, 0, err, sizeof(err)), -1);
	assert_contains(err, "unknown algorithm HS512");
	assert_int_equal(load_text("none", SECRET, 0, err, sizeof(err)), -1);
	assert_contains(err, "unknown algorithm none");
	assert_int_equal(load_text("hs256", SECRET, 0, err, sizeof(err)), -1);
	assert_contains(err, "unknown algorithm");
	assert_int_equal(load_text(NULL, SECRET, 0, err, sizeof(err)), -1);
	assert_contains(err, "unknown algorithm");
	assert_int_equal(load_text("HS256", SECRET, -1, err, sizeof(err)), -1);
	assert_contains(err, "leeway");
	assert_int_equal(load_text("HS256", SECRET, FYN_TOKEN_MAX_LEEWAY_S + 1, err, sizeof(err)), -1);
	assert_contains(err, "leeway");
	assert_int_equal(load_text("HS256", SECRET, FYN_TOKEN_MAX_LEEWAY_S, err, sizeof(err)), 0);
}

static void test_config_public_keys(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(load_text("RS256", fx.rsa_pub, 0, err, sizeof(err)), 0);
	assert_int_equal(load_text("ES256", fx.ec_pub, 0, err, sizeof(err)), 0);
	assert_int_equal(load_text("RS256", fx.rsa_priv, 0, err, sizeof(err)), -1);
	assert_contains(err, "no PEM public key");
	assert_int_equal(load_text("RS256", SECRET, 0, err, sizeof(err)), -1);
	assert_contains(err, "no PEM public key");
	assert_int_equal(load_text("RS256", fx.ec_pub, 0, err, sizeof(err)), -1);
	assert_contains(err, "RS256 needs an RSA public key");
	assert_int_equal(load_text("ES256", fx.rsa_pub, 0, err, sizeof(err)), -1);
	assert_contains(err, "ES256 needs an EC public key");
	assert_int_equal(load_text("RS256",
			"-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n",
			0, err, sizeof(err)), -1);
	assert_contains(err, "cannot parse the public key");
	assert_contains(err, fx.dir);
}

static void test_config_weak_or_wrong_curve_keys(void **state)
{
	EVP_PKEY *rsa1024 = EVP_RSA_gen(1024);
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	char *rsa_pem, *ec_pem, err[256] = "";

	(void)state;
	assert_non_null(rsa1024);
	assert_non_null(p384);
	rsa_pem = public_pem(rsa1024);
	ec_pem = public_pem(p384);
	assert_int_equal(load_text("RS256", rsa_pem, 0, err, sizeof(err)), -1);
	assert_contains(err, "1024 bits, at least 2048");
	assert_int_equal(load_text("ES256", ec_pem, 0, err, sizeof(err)), -1);
	assert_contains(err, "curve P-256");
	free(rsa_pem);
	free(ec_pem);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(p384);
}

/* ---- identifiers and roles -------------------------------------------- */

static void test_client_ids(void **state)
{
	static const char *const good[] = {"a", "till-2", "KDS_1.main", "0", "...", "-_-",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	static const char *const bad[] = {"", "a/b", "a+b", "a#", "a b", "é", "a\n", "platform/x",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(fyn_client_id_is_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(fyn_client_id_is_valid(bad[i]));
	assert_false(fyn_client_id_is_valid(NULL));
	assert_true(fyn_client_id_is_valid("platform"));
}

static void test_restaurant_ids(void **state)
{
	static const char *const good[] = {"r1", "R_2", "a-b", "platform1", "Platform", "_",
		"rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"};
	static const char *const bad[] = {"", "platform", "r.1", "a/b", "#", "+", "r 1", "r\t",
		"rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(fyn_restaurant_id_is_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(fyn_restaurant_id_is_valid(bad[i]));
	assert_false(fyn_restaurant_id_is_valid(NULL));
}

static void test_subs(void **state)
{
	(void)state;
	assert_true(fyn_sub_is_valid("user@example.com"));
	assert_true(fyn_sub_is_valid("Zoë / till 2"));
	assert_false(fyn_sub_is_valid(""));
	assert_false(fyn_sub_is_valid(NULL));
	assert_false(fyn_sub_is_valid("tab\there"));
	assert_false(fyn_sub_is_valid("del\x7f"));
	assert_false(fyn_sub_is_valid("c1\xc2\x85"));
}

static void test_roles(void **state)
{
	static const char *const names[] = {"platform_owner", "restaurant_owner", "manager",
		"staff", "kitchen"};
	enum fyn_role role = FYN_ROLE_STAFF;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(fyn_role_parse(names[i], &role), 0);
		assert_int_equal(role, (enum fyn_role)i);
		assert_string_equal(fyn_role_name(role), names[i]);
	}
	assert_int_equal(fyn_role_parse("admin", &role), -1);
	assert_int_equal(fyn_role_parse("STAFF", &role), -1);
	assert_int_equal(fyn_role_parse("", &role), -1);
	assert_int_equal(fyn_role_parse(NULL, &role), -1);
	assert_int_equal(role, FYN_ROLE_KITCHEN);
	assert_string_equal(fyn_role_name((enum fyn_role)42), "unknown");
}

/* ---- fixture ---------------------------------------------------------- */

static void load_config(enum cfg_id id, const char *alg, const char *name, const char *key,
		const char *issuer, const char *audience, int leeway)
{
	char err[256] = "";
	char *path = write_file(name, key, strlen(key));

	if (fyn_token_config_load(&fx.cfg[id], alg, path, issuer, audience, leeway, err, sizeof(err)) != 0) {
		print_error("%s\n", err);
		fail();
	}
	remove_file(path);
}

static void make_keys(void)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	EVP_PKEY *ec = EVP_EC_gen("P-256");

	assert_non_null(rsa);
	assert_non_null(ec);
	fx.rsa_pub = public_pem(rsa);
	fx.rsa_priv = private_pem(rsa);
	fx.ec_pub = public_pem(ec);
	fx.ec_priv = private_pem(ec);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(fx.dir, sizeof(fx.dir), "%s/fyn-token-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	make_keys();
	load_config(CFG_HS, "HS256", "hs", SECRET, NULL, NULL, 0);
	load_config(CFG_HS_LEEWAY, "HS256", "hs-leeway", SECRET, NULL, NULL, 30);
	load_config(CFG_HS_ISS_AUD, "HS256", "hs-iss-aud", SECRET, "fynlo-auth", "fynsync", 0);
	load_config(CFG_RS, "RS256", "rs.pem", fx.rsa_pub, NULL, NULL, 0);
	load_config(CFG_ES, "ES256", "es.pem", fx.ec_pub, NULL, NULL, 0);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < CFG_COUNT; i++)
		fyn_token_config_clear(&fx.cfg[i]);
	free(fx.rsa_pub);
	free(fx.rsa_priv);
	free(fx.ec_pub);
	free(fx.ec_priv);
	return rmdir(fx.dir);
}

static const struct CMUnitTest focused[] = {
	cmocka_unit_test(test_claims_content),
	cmocka_unit_test(test_platform_owner_has_no_restaurants),
	cmocka_unit_test(test_size_limit_boundary),
	cmocka_unit_test(test_nine_kib_garbage),
	cmocka_unit_test(test_restaurant_count_limit),
	cmocka_unit_test(test_length_limits_in_claims),
	cmocka_unit_test(test_reason_buffer_handling),
	cmocka_unit_test(test_out_is_zeroed_on_failure),
	cmocka_unit_test(test_unusable_config_and_null_token),
	cmocka_unit_test(test_config_hs256_secret_bytes_as_is),
	cmocka_unit_test(test_config_hs256_secret_length),
	cmocka_unit_test(test_config_file_problems),
	cmocka_unit_test(test_config_oversize_file),
	cmocka_unit_test(test_config_alg_and_leeway),
	cmocka_unit_test(test_config_public_keys),
	cmocka_unit_test(test_config_weak_or_wrong_curve_keys),
	cmocka_unit_test(test_client_ids),
	cmocka_unit_test(test_restaurant_ids),
	cmocka_unit_test(test_subs),
	cmocka_unit_test(test_roles),
};
#define FOCUSED_COUNT (sizeof(focused) / sizeof(focused[0]))

int main(void)
{
	static struct CMUnitTest tests[CASE_COUNT + FOCUSED_COUNT];

	for (size_t i = 0; i < CASE_COUNT; i++)
		tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, (void *)&cases[i]};
	for (size_t i = 0; i < FOCUSED_COUNT; i++)
		tests[CASE_COUNT + i] = focused[i];
	return cmocka_run_group_tests_name("token", tests, group_setup, group_teardown);
}
