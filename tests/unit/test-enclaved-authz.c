/* Authorization decisions over plain uid/gid lists. */
#include "config.h"

#include "enclaved/authz.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#define ENCLAVE_GID 990

static enum authz_role role(uid_t uid, gid_t gid, const gid_t *groups, size_t n, bool exists)
{
	struct authz_subject s = {.uid = uid, .gid = gid, .groups = groups, .n_groups = n};
	return authz_role_of(&s, exists, ENCLAVE_GID);
}

static void test_root(void **state)
{
	assert_int_equal(role(0, 0, NULL, 0, true), AUTHZ_ROLE_ROOT);
	/* Root does not need the group to exist. */
	assert_int_equal(role(0, 1234, NULL, 0, false), AUTHZ_ROLE_ROOT);
}

static void test_member_by_primary_gid(void **state)
{
	assert_int_equal(role(1000, ENCLAVE_GID, NULL, 0, true), AUTHZ_ROLE_MEMBER);
}

static void test_member_by_supplementary(void **state)
{
	const gid_t groups[] = {100, 27, ENCLAVE_GID};

	assert_int_equal(role(1000, 1000, groups, 3, true), AUTHZ_ROLE_MEMBER);
	/* Only the first n entries count. */
	assert_int_equal(role(1000, 1000, groups, 2, true), AUTHZ_ROLE_NONE);
}

static void test_non_member(void **state)
{
	const gid_t groups[] = {100, 27};

	assert_int_equal(role(65534, 65534, groups, 2, true), AUTHZ_ROLE_NONE);
	/* A missing group makes everyone but root a non-member, whatever their gids say. */
	assert_int_equal(role(1000, ENCLAVE_GID, NULL, 0, false), AUTHZ_ROLE_NONE);
}

static void test_allows(void **state)
{
	assert_true(authz_allows(AUTHZ_ROLE_ROOT, AUTHZ_NEED_ROOT));
	assert_true(authz_allows(AUTHZ_ROLE_ROOT, AUTHZ_NEED_MEMBER));
	assert_true(authz_allows(AUTHZ_ROLE_MEMBER, AUTHZ_NEED_MEMBER));
	assert_false(authz_allows(AUTHZ_ROLE_MEMBER, AUTHZ_NEED_ROOT));
	assert_false(authz_allows(AUTHZ_ROLE_NONE, AUTHZ_NEED_MEMBER));
	assert_false(authz_allows(AUTHZ_ROLE_NONE, AUTHZ_NEED_ROOT));
}

static void test_manage(void **state)
{
	assert_true(authz_may_manage(AUTHZ_ROLE_ROOT, 0, 1000));
	assert_true(authz_may_manage(AUTHZ_ROLE_MEMBER, 1000, 1000));
	assert_false(authz_may_manage(AUTHZ_ROLE_MEMBER, 1000, 1001));
	assert_false(authz_may_manage(AUTHZ_ROLE_MEMBER, 1000, 0));
	assert_false(authz_may_manage(AUTHZ_ROLE_NONE, 1000, 1000));
}

static void test_resolve_system(void **state)
{
	enum authz_role r;
	bool exists = true;

	/* Root needs no lookup. */
	assert_int_equal(authz_resolve(0, 0, "no-such-group-xyz", &r, &exists), 0);
	assert_int_equal(r, AUTHZ_ROLE_ROOT);
	/* A group that does not exist: nobody else gets in, and the caller learns why. */
	assert_int_equal(authz_resolve(65534, 65534, "no-such-group-xyz", &r, &exists), 0);
	assert_int_equal(r, AUTHZ_ROLE_NONE);
	assert_false(exists);
	/* "root" exists everywhere; a uid whose primary gid is 0 is a member of it. */
	assert_int_equal(authz_resolve(65534, 0, "root", &r, &exists), 0);
	assert_true(exists);
	assert_int_equal(r, AUTHZ_ROLE_MEMBER);
	assert_int_equal(authz_resolve(65534, 65534, NULL, &r, &exists), 0);
	assert_int_equal(r, AUTHZ_ROLE_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root),
	    cmocka_unit_test(test_member_by_primary_gid),
	    cmocka_unit_test(test_member_by_supplementary),
	    cmocka_unit_test(test_non_member),
	    cmocka_unit_test(test_allows),
	    cmocka_unit_test(test_manage),
	    cmocka_unit_test(test_resolve_system),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
