/* Who may call what. The peer's uid and gids come from SO_PEERCRED (via rpc_call_peer); the
 * decision itself is pure logic over those numbers so that it can be tested without users.
 *
 *   root (uid 0)                      everything
 *   member of the configured group    run enclaves, manage the ones it owns, read-only calls
 *   anyone else                       nothing: PERMISSION_DENIED */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum authz_role {
	AUTHZ_ROLE_NONE = 0,
	AUTHZ_ROLE_MEMBER = 1,
	AUTHZ_ROLE_ROOT = 2,
};

/* What a method needs; checked before its handler runs. */
enum authz_need {
	AUTHZ_NEED_MEMBER, /* root or a group member */
	AUTHZ_NEED_ROOT,   /* root only (pool changes) */
};

/* The facts about one caller. */
struct authz_subject {
	uid_t uid;
	gid_t gid;	     /* primary gid from SO_PEERCRED */
	const gid_t *groups; /* supplementary groups from the group database */
	size_t n_groups;
};

/* Role of subject when the enclave group has gid group_gid (group_exists false: no group is
 * configured or it does not exist, so only root has access). */
enum authz_role authz_role_of(const struct authz_subject *subject, bool group_exists,
			      gid_t group_gid);
bool authz_allows(enum authz_role role, enum authz_need need);
/* May this caller act on an enclave owned by owner_uid? Root: any; members: their own. */
bool authz_may_manage(enum authz_role role, uid_t uid, uid_t owner_uid);
const char *authz_role_name(enum authz_role role);

/* Resolve the role of a peer from the system's user and group databases: the primary gid from
 * SO_PEERCRED plus getgrouplist() of the uid's passwd entry (if it has one). group may be NULL.
 * Fills *group_exists so the caller can explain a denial. */
int authz_resolve(uid_t uid, gid_t gid, const char *group, enum authz_role *role,
		  bool *group_exists);
