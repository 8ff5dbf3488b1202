# Sourced after lib.sh by tests that need other identities: a temporary group (and users) the
# daemon is configured with, removed again at exit, and the system python for code that runs
# under another uid (python3 in PATH may be a shim under /root that other uids cannot run, and
# a check that merely fails to start its interpreter proves nothing).
SYS_PY=/usr/bin/python3
TEMP_GROUP=
TEMP_USERS=()
USERS_CLEANUP_HOOK=${USERS_CLEANUP_HOOK:-}

# need_commands CMD...: skip unless each is installed.
need_commands() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null || skip "$c is not installed"; done
}

need_sys_python() {
	[ -x "$SYS_PY" ] || skip "no system $SYS_PY for the unprivileged clients"
}

users_cleanup() {
	local rc=$? u
	[ -z "$USERS_CLEANUP_HOOK" ] || $USERS_CLEANUP_HOOK
	for u in "${TEMP_USERS[@]}"; do userdel "$u" 2>/dev/null || true; done
	[ -z "$TEMP_GROUP" ] || groupdel "$TEMP_GROUP" 2>/dev/null || true
	set +e # a failed test must still reach the common cleanup (daemon, VMMs, files)
	(exit $rc)
	cleanup
}

# temp_group NAME: create group NAME (make it unique, e.g. with $$); sets GROUP and GID.
temp_group() {
	trap users_cleanup EXIT
	GROUP=$1
	groupadd "$GROUP"
	TEMP_GROUP=$GROUP
	GID=$(getent group "$GROUP" | cut -d: -f3)
}

# temp_user NAME [useradd options...]: a login-less user without a home, removed at exit.
temp_user() {
	local name=$1
	shift
	trap users_cleanup EXIT
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$@" "$name"
	TEMP_USERS+=("$name")
}

# group_conf [OVERSUBSCRIBE]: the test config with the daemon's group set to $GROUP.
group_conf() {
	{
		printf '[daemon]\ngroup = %s\n\n' "$GROUP"
		pool_conf "$@"
	} >"$TEST_DIR/enclaved.conf"
}

# try_connect PATH CMD...: connect(2) to the unix socket PATH with the system python run under
# CMD (e.g. a setpriv wrapper); prints "connected" or the OSError class (PermissionError...).
try_connect() {
	local path=$1
	shift
	"$@" timeout 10 "$SYS_PY" -c "
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print('connected')
except OSError as e:
    print(type(e).__name__)" "$path"
}
