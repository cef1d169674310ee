/*
 * acl_parse.c: reads the text of an ACL file line by line into a struct
 * fyn_acl. The format (docs/acl.md) is one statement per line:
 *
 *   view NAME [remove KEY...]       define a view (before any section)
 *   role ROLE | user SUB            start a section
 *   receive VIEW                    the view this section's clients receive
 *   allow|deny read|write|readwrite PATTERN
 *
 * '#' starts a comment line. The text must be UTF-8 (a leading BOM is
 * skipped) without control characters other than tab; lines end with LF or
 * CRLF. The first problem stops the parse and is reported as
 * "name:line: problem"; nothing half-built is returned.
 */
#include "acl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS (FYN_ACL_MAX_LINE / 2 + 1)

struct parser {
	struct fyn_acl *acl;
	const char *name;
	int line;
	struct fyn_section *section;   /* the one being filled; NULL before the first */
	char *err;
	size_t errlen;
};

struct tokens {
	char *word[MAX_TOKENS];
	size_t count;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct parser *p, const char *format, ...)
{
	if (p->err == NULL || p->errlen == 0)
		return -1;
	int used = snprintf(p->err, p->errlen, "%s:%d: ", p->name, p->line);
	if (used < 0 || (size_t)used >= p->errlen)
		return -1;
	va_list args;
	va_start(args, format);
	vsnprintf(p->err + used, p->errlen - (size_t)used, format, args);
	va_end(args);
	return -1;
}

static const char *const section_hint = "start a section with 'role NAME' or 'user SUB' first";

static bool view_name_is_valid(const char *name)
{
	size_t len = strlen(name);
	return len <= 64 && strspn(name,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

static bool view_removes(const struct fyn_view *view, const char *key)
{
	for (size_t i = 0; i < view->removed_count; i++) {
		if (strcmp(view->removed[i], key) == 0)
			return true;
	}
	return false;
}

static int add_removed_keys(struct parser *p, struct fyn_view *view, const struct tokens *t)
{
	if (t->count == 3)
		return fail(p, "'remove' needs at least one key");
	for (size_t i = 3; i < t->count; i++) {
		if (view_removes(view, t->word[i]))
			return fail(p, "key '%s' listed twice", t->word[i]);
		if (fyn_view_add_removed_key(view, t->word[i]) != 0)
			return fail(p, "out of memory");
	}
	return 0;
}

static int parse_view(struct parser *p, const struct tokens *t)
{
	if (t->count < 2)
		return fail(p, "expected 'view NAME [remove KEY...]'");
	const char *name = t->word[1];
	if (p->section != NULL)
		return fail(p, "view '%s' defined inside a section: define views before the first role or user section", name);
	if (!view_name_is_valid(name))
		return fail(p, "bad view name '%s' (at most 64 letters, digits, '.', '_' or '-')", name);
	int existing = fyn_acl_find_view(p->acl, name);
	if (existing >= 0)
		return fail(p, "duplicate view '%s' (first defined at line %d)", name, p->acl->views[existing].line);
	if (t->count > 2 && strcmp(t->word[2], "remove") != 0)
		return fail(p, "expected 'remove' after the view name, got '%s'", t->word[2]);
	struct fyn_view *view = fyn_acl_add_view(p->acl, name, p->line);
	if (view == NULL)
		return fail(p, "out of memory");
	return t->count > 2 ? add_removed_keys(p, view, t) : 0;
}

static int parse_role(struct parser *p, const struct tokens *t)
{
	if (t->count != 2)
		return fail(p, "expected 'role NAME'");
	int index = fyn_acl_role_index(t->word[1]);
	if (index < 0) {
		char roles[128];
		fyn_role_list(roles, sizeof(roles));
		return fail(p, "unknown role '%s' (roles: %s)", t->word[1], roles);
	}
	struct fyn_section *section = &p->acl->roles[index];
	if (section->line != 0)
		return fail(p, "duplicate section 'role %s' (first at line %d)", t->word[1], section->line);
	section->line = p->line;
	p->section = section;
	return 0;
}

static const struct fyn_section *user_section_named(const struct fyn_acl *acl, const char *sub)
{
	for (size_t i = 0; i < acl->user_count; i++) {
		if (strcmp(acl->users[i].name, sub) == 0)
			return &acl->users[i];
	}
	return NULL;
}

static int parse_user(struct parser *p, const struct tokens *t)
{
	if (t->count != 2)
		return fail(p, "expected 'user SUB'");
	const struct fyn_section *existing = user_section_named(p->acl, t->word[1]);
	if (existing != NULL)
		return fail(p, "duplicate section 'user %s' (first at line %d)", t->word[1], existing->line);
	p->section = fyn_acl_add_user(p->acl, t->word[1], p->line);
	return p->section != NULL ? 0 : fail(p, "out of memory");
}

static int parse_receive(struct parser *p, const struct tokens *t)
{
	if (p->section == NULL)
		return fail(p, "'receive' outside a section: %s", section_hint);
	if (t->count != 2)
		return fail(p, "expected 'receive VIEW'");
	if (p->section->view >= 0)
		return fail(p, "this section already receives view '%s'",
			p->acl->views[p->section->view].name);
	int view = fyn_acl_find_view(p->acl, t->word[1]);
	if (view < 0)
		return fail(p, "unknown view '%s' (define it with 'view %s' before the first section)",
			t->word[1], t->word[1]);
	p->section->view = view;
	return 0;
}

static int parse_access(const char *word, unsigned *access)
{
	if (strcmp(word, "read") == 0)
		*access = FYN_ACCESS_READ;
	else if (strcmp(word, "write") == 0)
		*access = FYN_ACCESS_WRITE;
	else if (strcmp(word, "readwrite") == 0)
		*access = FYN_ACCESS_READ | FYN_ACCESS_WRITE;
	else
		return -1;
	return 0;
}

/* "allow read a/b" as one heap string; the pattern starts at *pattern. */
static char *join_rule_text(const struct tokens *t, const char **pattern)
{
	size_t len = strlen(t->word[0]) + strlen(t->word[1]) + strlen(t->word[2]) + 3;
	char *text = malloc(len);
	if (text == NULL)
		return NULL;
	int prefix = snprintf(text, len, "%s %s ", t->word[0], t->word[1]);
	snprintf(text + prefix, len - (size_t)prefix, "%s", t->word[2]);
	*pattern = text + prefix;
	return text;
}

static int check_rule_shape(struct parser *p, const struct tokens *t)
{
	if (p->section == NULL)
		return fail(p, "rule outside a section: %s", section_hint);
	if (t->count < 3)
		return fail(p, "expected '%s read|write|readwrite PATTERN'", t->word[0]);
	if (t->count > 3)
		return fail(p, "unexpected '%s' after the pattern (a pattern has no spaces)", t->word[3]);
	return 0;
}

static int parse_rule(struct parser *p, const struct tokens *t)
{
	unsigned access = 0;
	if (check_rule_shape(p, t) != 0)
		return -1;
	if (parse_access(t->word[1], &access) != 0)
		return fail(p, "bad access '%s' (expected read, write or readwrite)", t->word[1]);
	struct fyn_rule rule = { .allow = strcmp(t->word[0], "allow") == 0, .access = access, .line = p->line };
	const char *pattern = NULL;
	rule.text = join_rule_text(t, &pattern);
	if (rule.text == NULL)
		return fail(p, "out of memory");
	char problem[128];
	if (fyn_pattern_compile(&rule.pattern, pattern, problem, sizeof(problem)) != 0) {
		fyn_rule_clear(&rule);
		return fail(p, "invalid pattern '%s': %s", t->word[2], problem);
	}
	struct fyn_rule *slot = fyn_section_add_rule(p->section);
	if (slot == NULL) {
		fyn_rule_clear(&rule);
		return fail(p, "out of memory");
	}
	*slot = rule;
	p->acl->rule_count++;
	return 0;
}

static void split_words(char *line, struct tokens *t)
{
	char *saved = NULL;
	t->count = 0;
	for (char *word = strtok_r(line, " \t\r", &saved); word != NULL && t->count < MAX_TOKENS;
			word = strtok_r(NULL, " \t\r", &saved))
		t->word[t->count++] = word;
}

static const struct {
	const char *keyword;
	int (*parse)(struct parser *p, const struct tokens *t);
} statements[] = {
	{ "view", parse_view }, { "role", parse_role }, { "user", parse_user },
	{ "receive", parse_receive }, { "allow", parse_rule }, { "deny", parse_rule },
};

static int parse_statement(struct parser *p, const struct tokens *t)
{
	for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
		if (strcmp(t->word[0], statements[i].keyword) == 0)
			return statements[i].parse(p, t);
	}
	return fail(p, "unknown keyword '%s' (expected view, role, user, receive, allow or deny)",
		t->word[0]);
}

static bool is_continuation(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_length(const unsigned char *s, size_t left)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (left < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (!is_continuation(s[i]))
			return 0;
	}
	return n;
}

/* Refuses bytes no admin meant to write: invalid UTF-8, control characters
 * other than tab, and a carriage return anywhere but at the end of the line
 * (CRLF line ends are fine; a lone CR would silently join two statements). */
static int check_line_bytes(struct parser *p, const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = utf8_length(s + i, len - i);
		if (n == 0)
			return fail(p, "invalid UTF-8 (byte 0x%02x at byte %zu of the line); save the file as UTF-8",
				s[i], i + 1);
		if (s[i] == '\r' && i + 1 != len)
			return fail(p, "carriage return inside the line (at byte %zu); lines end with LF or CRLF", i + 1);
		if (n == 1 && s[i] != '\t' && s[i] != '\r' && (s[i] < 0x20 || s[i] == 0x7F))
			return fail(p, "control character 0x%02x at byte %zu of the line", s[i], i + 1);
		i += n;
	}
	return 0;
}

static int parse_line(struct parser *p, const char *start, size_t len)
{
	/* bytes first: a file with CR-only line ends is one long line */
	if (check_line_bytes(p, (const unsigned char *)start, len) != 0)
		return -1;
	if (len > FYN_ACL_MAX_LINE)
		return fail(p, "line too long (more than %d characters)", FYN_ACL_MAX_LINE);
	char line[FYN_ACL_MAX_LINE + 1];
	memcpy(line, start, len);
	line[len] = '\0';
	struct tokens t;
	split_words(line, &t);
	if (t.count == 0 || t.word[0][0] == '#')
		return 0;
	return parse_statement(p, &t);
}

static int parse_lines(struct parser *p, const char *text)
{
	static const char bom[] = "\xEF\xBB\xBF";   /* some Windows editors start UTF-8 files with it */
	const char *start = strncmp(text, bom, 3) == 0 ? text + 3 : text;
	while (*start != '\0') {
		p->line++;
		const char *end = strchr(start, '\n');
		size_t len = end != NULL ? (size_t)(end - start) : strlen(start);
		if (parse_line(p, start, len) != 0)
			return -1;
		if (end == NULL)
			break;
		start = end + 1;
	}
	return 0;
}

struct fyn_acl *fyn_acl_load_string(const char *text, const char *name, char *err, size_t errlen)
{
	struct parser p = { .name = name != NULL ? name : "(string)", .err = err, .errlen = errlen };
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text == NULL) {
		fail(&p, "no text to parse");
		return NULL;
	}
	p.acl = fyn_acl_new();
	if (p.acl == NULL) {
		fail(&p, "out of memory");
		return NULL;
	}
	if (parse_lines(&p, text) != 0) {
		fyn_acl_free(p.acl);
		return NULL;
	}
	fyn_acl_sort_users(p.acl);
	return p.acl;
}
