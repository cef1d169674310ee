/*
 * acl_load_or_fail.h: for the ACL unit tests, an ACL file parsed from a
 * string, or the test failed with the parser's message. Include after
 * cmocka.h and acl.h.
 */
#ifndef FYNSYNC_ACL_LOAD_OR_FAIL_H
#define FYNSYNC_ACL_LOAD_OR_FAIL_H

static struct fyn_acl *load(const char *text)
{
	char err[512] = "";
	struct fyn_acl *acl = fyn_acl_load_string(text, "t.acl", err, sizeof(err));
	if (acl == NULL)
		print_error("%s\n", err);
	assert_non_null(acl);
	return acl;
}

#endif
