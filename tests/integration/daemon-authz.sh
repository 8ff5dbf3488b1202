#!/bin/bash
# SO_PEERCRED authorization: a non-member is refused, members of a temporary group are let in,
# root-only methods stay root-only.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/users.sh"
need_root
need_commands setpriv groupadd
getent passwd 65534 >/dev/null || skip "no user with uid 65534"

temp_group enct$$
group_conf
chmod 755 "$TEST_DIR" # let uid 65534 reach the socket; the socket's own mode decides
start_daemon

assert_eq "$(stat -c '%a %G' "$ENCLAVED_SOCKET")" "660 $GROUP" "socket mode and group"

as() { # as GID CMD...: run as uid 65534 with only that primary gid
	local gid=$1; shift
	setpriv --reuid=65534 --regid="$gid" --clear-groups "$@"
}

# A non-member cannot even open the socket.
rc=0
as 65534 "$ENCLAVECTL" version 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 17 "non-member through the 0660 socket"
grep -q "PERMISSION_DENIED" "$TEST_DIR/err" || fail "no PERMISSION_DENIED: $(cat "$TEST_DIR/err")"

# With the file mode out of the way, the daemon's own check refuses.
chmod 666 "$ENCLAVED_SOCKET"
rc=0
as 65534 "$ENCLAVECTL" version 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 17 "non-member past the file mode"
grep -q "PERMISSION_DENIED: uid 65534 is not a member of group '$GROUP'" "$TEST_DIR/err" ||
	fail "daemon did not refuse with a reason: $(cat "$TEST_DIR/err")"
chmod 660 "$ENCLAVED_SOCKET"

# A member by primary gid.
as "$GID" "$ENCLAVECTL" version >"$TEST_DIR/out" || fail "member by primary gid refused"
grep -q DaemonVersion "$TEST_DIR/out" || fail "member: no daemon version"

# A member through the group database (getgrouplist), with no gid of the group in its creds.
gpasswd -a "$(getent passwd 65534 | cut -d: -f1)" "$GROUP" >/dev/null
chmod 666 "$ENCLAVED_SOCKET"
as 65534 "$ENCLAVECTL" health >/dev/null || fail "member through the group database refused"

# Members may not resize the pool; root may.
rc=0
as "$GID" "$ENCLAVECTL" pool resize --cpu-count 1 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 17 "member calling Pool/Resize"
grep -q "is for root only" "$TEST_DIR/err" || fail "no root-only reason: $(cat "$TEST_DIR/err")"
rc=0
"$ENCLAVECTL" pool resize --cpu-count 1 >/dev/null 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 0 "root calling Pool/Resize: $(cat "$TEST_DIR/err")"
echo "PASS"
