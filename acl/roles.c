/*
 * roles.c: the contract's roles, written out once for the whole hub (the
 * ACL sections, token checks and the CLI all name them through here).
 */
#include "acl.h"

#include <stdio.h>
#include <string.h>

static const char *const role_names[FYN_ROLE_COUNT] = {
	[FYN_ROLE_PLATFORM_OWNER] = "platform_owner",
	[FYN_ROLE_RESTAURANT_OWNER] = "restaurant_owner",
	[FYN_ROLE_MANAGER] = "manager",
	[FYN_ROLE_STAFF] = "staff",
	[FYN_ROLE_KITCHEN] = "kitchen",
};

const char *fyn_role_name(enum fyn_role role)
{
	if ((unsigned)role >= FYN_ROLE_COUNT)
		return "unknown";
	return role_names[role];
}

int fyn_role_parse(const char *name, enum fyn_role *out)
{
	for (int i = 0; name != NULL && i < FYN_ROLE_COUNT; i++) {
		if (strcmp(name, role_names[i]) == 0) {
			if (out != NULL)
				*out = (enum fyn_role)i;
			return 0;
		}
	}
	return -1;
}

void fyn_role_list(char *out, size_t outlen)
{
	size_t used = 0;
	if (outlen == 0)
		return;
	out[0] = '\0';
	for (int i = 0; i < FYN_ROLE_COUNT && used < outlen; i++) {
		int n = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", role_names[i]);
		if (n < 0)
			return;
		used += (size_t)n;
	}
}
