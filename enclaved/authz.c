#include "config.h"

#include "enclaved/authz.h"

#include "common/util.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>

/* A user in more groups than this is not worth a bigger buffer: the lookup fails closed. */
#define AUTHZ_MAX_GROUPS 1024

enum authz_role authz_role_of(const struct authz_subject *subject, bool group_exists,
			      gid_t group_gid)
{
	if (subject->uid == 0)
		return AUTHZ_ROLE_ROOT;
	if (!group_exists)
		return AUTHZ_ROLE_NONE;
	if (subject->gid == group_gid)
		return AUTHZ_ROLE_MEMBER;
	for (size_t i = 0; i < subject->n_groups; i++) {
		if (subject->groups[i] == group_gid)
			return AUTHZ_ROLE_MEMBER;
	}
	return AUTHZ_ROLE_NONE;
}

bool authz_allows(enum authz_role role, enum authz_need need)
{
	switch (need) {
	case AUTHZ_NEED_MEMBER:
		return role == AUTHZ_ROLE_MEMBER || role == AUTHZ_ROLE_ROOT;
	case AUTHZ_NEED_ROOT:
		return role == AUTHZ_ROLE_ROOT;
	}
	return false;
}

bool authz_may_manage(enum authz_role role, uid_t uid, uid_t owner_uid)
{
	if (role == AUTHZ_ROLE_ROOT)
		return true;
	return role == AUTHZ_ROLE_MEMBER && uid == owner_uid;
}

const char *authz_role_name(enum authz_role role)
{
	switch (role) {
	case AUTHZ_ROLE_NONE:
		return "none";
	case AUTHZ_ROLE_MEMBER:
		return "member";
	case AUTHZ_ROLE_ROOT:
		return "root";
	}
	return "unknown";
}

int authz_resolve(uid_t uid, gid_t gid, const char *group, enum authz_role *role,
		  bool *group_exists)
{
	struct authz_subject subject = {.uid = uid, .gid = gid};
	_cleanup_free_ gid_t *groups = NULL;
	_cleanup_free_ char *buf = NULL;
	struct group grp, *grp_result = NULL;
	struct passwd pw, *pw_result = NULL;
	long bufsize = sysconf(_SC_GETPW_R_SIZE_MAX);
	int r;

	*group_exists = false;
	*role = AUTHZ_ROLE_NONE;
	if (uid == 0) {
		*role = AUTHZ_ROLE_ROOT;
		return 0;
	}
	if (!group)
		return 0;
	if (bufsize < 16384)
		bufsize = 16384;
	buf = malloc((size_t)bufsize);
	if (!buf)
		return -ENOMEM;
	r = getgrnam_r(group, &grp, buf, (size_t)bufsize, &grp_result);
	if (r != 0)
		return -r;
	if (!grp_result)
		return 0;
	*group_exists = true;
	gid_t group_gid = grp.gr_gid;

	r = getpwuid_r(uid, &pw, buf, (size_t)bufsize, &pw_result);
	if (r != 0)
		return -r;
	if (pw_result) {
		int n = AUTHZ_MAX_GROUPS;
		groups = calloc((size_t)n, sizeof(gid_t));
		if (!groups)
			return -ENOMEM;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
			return -E2BIG;
		subject.groups = groups;
		subject.n_groups = (size_t)n;
	}
	*role = authz_role_of(&subject, true, group_gid);
	return 0;
}
