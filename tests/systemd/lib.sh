# Sourced by tests/systemd/*.sh: boots a real systemd as PID 1 in its own PID and mount
# namespace, chrooted into an overlay of the host root with the project installed into the
# overlay's upper layer, so the host is never written to. sd_stop (run from the EXIT trap)
# powers it off and removes every mount and cgroup it created.
set -eu
: "${top_builddir:?run through make check}"

SD_SYSTEMD=/lib/systemd/systemd
SD_DIR=
SD_PID=
SD_UNSHARE_PID=
SD_CGROUPS_BEFORE=

sd_skip() { echo "SKIP: $*"; exit 77; }
# fail MESSAGE: the test fails, with the tail of the journal inside the test's systemd.
fail() {
	echo "FAIL: $*"
	sd_run journalctl --no-pager -n 80 2>/dev/null | tail -80 || true
	exit 1
}
# describe-enclaves as seen inside the test's systemd.
enclaves() { sd_run enclavectl describe-enclaves; }

sd_require() {
	[ "$(id -u)" = 0 ] || sd_skip "needs root"
	[ -x "$SD_SYSTEMD" ] || sd_skip "systemd is not installed"
	command -v unshare >/dev/null && command -v nsenter >/dev/null || sd_skip "util-linux unshare/nsenter missing"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
	grep -qw overlay /proc/filesystems || sd_skip "no overlay filesystem"
	# The installed units, sysusers.d and tmpfiles.d must land where this systemd looks.
	local prefix
	prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
	case $prefix in
	/usr | /usr/local) ;;
	*) sd_skip "the build's prefix ($prefix) is not one systemd reads units and sysusers.d from" ;;
	esac
}

cgroup_dirs() { find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort; }

# sd_start: install the build into a fresh overlay and boot systemd to a minimal target.
sd_start() {
	sd_require
	# One systemd at a time: each test removes the cgroups its systemd created, which it can
	# only tell apart from another test's while no other systemd runs. Held until exit.
	exec {SD_LOCK_FD}>"$top_builddir/.systemd-tests.lock"
	flock "$SD_LOCK_FD"
	SD_DIR=$(mktemp -d /tmp/enclaved-systemd.XXXXXX)
	SD_CGROUPS_BEFORE=$SD_DIR.cgroups
	cgroup_dirs >"$SD_CGROUPS_BEFORE"
	mount -t tmpfs -o mode=0755 enclaved-systemd-test "$SD_DIR"
	mkdir -p "$SD_DIR/upper" "$SD_DIR/work" "$SD_DIR/root"
	# Tests run in parallel; two make installs in one build tree must not race.
	flock "$top_builddir/.install.lock" make -s -C "$top_builddir" install DESTDIR="$SD_DIR/upper" >/dev/null
	# On merged-/usr hosts /lib, /bin, /sbin are symlinks; a real directory of the same name in
	# the upper layer would hide them, so move what make install put there behind the link.
	for d in lib lib64 bin sbin; do
		if [ -L "/$d" ] && [ -d "$SD_DIR/upper/$d" ] && [ ! -L "$SD_DIR/upper/$d" ]; then
			target=$(readlink "/$d")
			mkdir -p "$SD_DIR/upper/${target#/}"
			cp -a "$SD_DIR/upper/$d/." "$SD_DIR/upper/${target#/}/"
			rm -rf "${SD_DIR:?}/upper/$d"
		fi
	done
	mkdir -p "$SD_DIR/upper/etc/systemd/system"
	cat >"$SD_DIR/upper/etc/systemd/system/enclaved-test.target" <<'UNIT'
[Unit]
Description=enclaved test boot target
UNIT
	cat >"$SD_DIR/boot.sh" <<BOOT
set -e
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/,upperdir=$SD_DIR/upper,workdir=$SD_DIR/work $SD_DIR/root
mount -t proc proc $SD_DIR/root/proc
mount --rbind /sys $SD_DIR/root/sys
mount --rbind /dev $SD_DIR/root/dev
mount -t tmpfs tmpfs $SD_DIR/root/run
mount -t tmpfs tmpfs $SD_DIR/root/tmp
export container=enclaved-test
exec chroot $SD_DIR/root $SD_SYSTEMD --system --unit=enclaved-test.target
BOOT
	unshare --pid --fork --mount sh "$SD_DIR/boot.sh" </dev/null >"$SD_DIR.console" 2>&1 &
	SD_UNSHARE_PID=$!
	for _ in $(seq 100); do
		SD_PID=$(pgrep -P "$SD_UNSHARE_PID" -x systemd || true)
		if [ -n "$SD_PID" ] && [ "$(sd_run systemctl is-system-running 2>/dev/null)" = running ]; then
			return 0
		fi
		sleep 0.2
	done
	cat "$SD_DIR.console" || true
	echo "FAIL: systemd did not reach running"
	return 1
}

# sd_run CMD...: run a command inside the systemd's namespaces and root.
sd_run() { nsenter -t "$SD_PID" -m -p -r -w "$@"; }

sd_stop() {
	if [ -n "$SD_PID" ] && kill -0 "$SD_PID" 2>/dev/null; then
		sd_run systemctl --no-block poweroff >/dev/null 2>&1 || true
		for _ in $(seq 100); do kill -0 "$SD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SD_PID" 2>/dev/null || true
	fi
	[ -n "$SD_UNSHARE_PID" ] && wait "$SD_UNSHARE_PID" 2>/dev/null || true
	# PID 1's namespace is gone, so every process of the test is too; now the cgroups are empty.
	if [ -n "$SD_CGROUPS_BEFORE" ] && [ -f "$SD_CGROUPS_BEFORE" ]; then
		# Only systemd's own unit cgroups and the pool's (enclaved under a hierarchy's root,
		# with one per enclave: the VMMs outlive the daemon, and died with the namespace).
		cgroup_dirs | comm -13 "$SD_CGROUPS_BEFORE" - |
			grep -E '\.(scope|slice|mount|service|socket|swap)(/|$)|^/sys/fs/cgroup/[^/]+/enclaved(/|$)' |
			sort -r | while read -r d; do
			rmdir "$d" 2>/dev/null || true
		done
		rm -f "$SD_CGROUPS_BEFORE"
	fi
	if [ -n "$SD_DIR" ]; then
		umount -l "$SD_DIR" 2>/dev/null || true
		rmdir "$SD_DIR" 2>/dev/null || true
		rm -f "$SD_DIR.console"
	fi
}
