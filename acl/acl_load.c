/*
 * acl_load.c: reads an ACL file from disk and hands its text to the parser.
 * Refuses files that are too large or contain NUL bytes (which would silently
 * cut the text short), naming the file and the line.
 */
#include "acl_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES ((size_t)16 * 1024 * 1024)

static int line_of_offset(const char *text, size_t offset)
{
	int line = 1;
	for (size_t i = 0; i < offset; i++)
		line += text[i] == '\n';
	return line;
}

/* Reads all of file into a NUL-terminated heap buffer. Returns NULL with a
 * message in err. */
static char *read_all(FILE *file, const char *path, size_t *size, char *err, size_t errlen)
{
	size_t capacity = 4096;
	size_t used = 0;
	char *buffer = malloc(capacity);
	while (buffer != NULL) {
		used += fread(buffer + used, 1, capacity - used - 1, file);
		if (ferror(file) || used > MAX_FILE_BYTES)
			break;
		if (feof(file)) {
			buffer[used] = '\0';
			*size = used;
			return buffer;
		}
		char *bigger = realloc(buffer, capacity * 2);
		if (bigger == NULL)
			break;
		buffer = bigger;
		capacity *= 2;
	}
	if (buffer == NULL || !ferror(file))
		snprintf(err, errlen, "%s: %s", path, used > MAX_FILE_BYTES ? "file too large" : "out of memory");
	else
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	free(buffer);
	return NULL;
}

struct fyn_acl *fyn_acl_load_file(const char *path, char *err, size_t errlen)
{
	char ignored[1];
	if (err == NULL || errlen == 0) {
		err = ignored;
		errlen = sizeof(ignored);
	}
	if (path == NULL) {
		snprintf(err, errlen, "(null): no file name");
		return NULL;
	}
	FILE *file = fopen(path, "r");
	if (file == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	size_t size = 0;
	char *text = read_all(file, path, &size, err, errlen);
	fclose(file);
	if (text == NULL)
		return NULL;
	const char *nul = memchr(text, '\0', size);
	struct fyn_acl *acl = NULL;
	if (nul != NULL)
		snprintf(err, errlen, "%s:%d: NUL byte in the file", path, line_of_offset(text, (size_t)(nul - text)));
	else
		acl = fyn_acl_load_string(text, path, err, errlen);
	free(text);
	return acl;
}
