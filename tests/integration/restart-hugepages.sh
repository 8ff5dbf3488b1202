#!/bin/bash
# Re-adoption with real 2 MiB hugepages and a real cpuset cgroup (v1, when there is one): an
# enclave survives a SIGKILL and a SIGTERM of enclaved; the restarted daemons keep the pool's
# hugepage reservation and the enclave's cgroup (the VMM stays in it) and account exactly what
# they did before; after the enclave is terminated and the daemon stopped, nr_hugepages and the
# cgroups are back where they started.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
KNOB=/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
[ -w "$KNOB" ] || skip "no writable 2 MiB hugepage knob at $KNOB"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
VSOCK_REQ=$top_srcdir/scripts/lib/vsock-request.py

ORIG=$(cat "$KNOB")
CG=
on_exit() {
	local rc=$?
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		"$ENCLAVECTL" terminate-enclave --all >/dev/null 2>&1 || true
	fi
	# lib.sh's cleanup stops the daemon and any VMM and exits: run it in a subshell, then put
	# the knob and the cgroups back.
	(exit $rc)
	(cleanup) || true
	echo "$ORIG" >"$KNOB" 2>/dev/null || true
	[ -z "$CG" ] || { rmdir "$CG"/enclaved/* "$CG/enclaved" "$CG" 2>/dev/null || true; }
	exit $rc
}
trap on_exit EXIT
CGROUP_ARG=none
if [ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]; then
	CG=/sys/fs/cgroup/cpuset/restart-test.$$
	mkdir "$CG"
	cat /sys/fs/cgroup/cpuset/cpuset.cpus >"$CG/cpuset.cpus"
	cat /sys/fs/cgroup/cpuset/cpuset.mems >"$CG/cpuset.mems"
	CGROUP_ARG=$CG
fi
export ENCLAVED_CGROUP_ROOT=$CGROUP_ARG
mkdir -p "$TEST_DIR"
cat >"$TEST_DIR/enclaved.conf" <<CONF
[pool]
cpu_count = 1
memory_mib = 64
hugepages = 2M
exclude_cpu0 = no
min_enclave_mib = 4
cpu_oversubscribe = 4
CONF
start_daemon
[ "$(cat "$KNOB")" -ge $((ORIG + 32)) ] || fail "the pool did not reserve 32 pages (knob $(cat "$KNOB"), was $ORIG)"
id=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 | json 'd["EnclaveID"]')
vmm=$("$ENCLAVECTL" describe-enclaves | json 'd[0]["ProcessID"]')
pool() { "$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"], d["FreeMemoryMiB"], len(d["Enclaves"])'; }
before=$(pool)
knob=$(cat "$KNOB")
incg() { [ -z "$CG" ] || grep -qx "$vmm" "$CG/enclaved/$id/cgroup.procs" || fail "$1: VMM $vmm not in $CG/enclaved/$id"; }
incg "before"

for sig in KILL TERM; do
	kill -$sig "$DAEMON_PID"
	wait "$DAEMON_PID" || true
	kill -0 "$vmm" || fail "VMM died with the daemon (SIG$sig)"
	assert_eq "$(cat "$KNOB")" "$knob" "nr_hugepages while the daemon is down (SIG$sig)"
	start_daemon
	assert_eq "$(cat "$KNOB")" "$knob" "nr_hugepages after the SIG$sig restart"
	assert_eq "$(pool)" "$before" "pool after the SIG$sig restart"
	assert_eq "$("$ENCLAVECTL" describe-enclaves | json 'd[0]["State"]')" RUNNING "state after SIG$sig"
	incg "after SIG$sig"
	out=$(timeout 60 python3 "$VSOCK_REQ" "$TEST_DIR/run/enclaves/$id/vsock.sock" echo "huge $sig") ||
		fail "echo after SIG$sig"
	assert_eq "$out" "huge $sig" "echo after SIG$sig"
done

"$ENCLAVECTL" terminate-enclave --all >/dev/null
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"], len(d["Enclaves"])')" "0 0" "pool after terminate"
[ -z "$CG" ] || [ ! -d "$CG/enclaved/$id" ] || fail "the enclave's cgroup is left behind"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
DAEMON_PID=
assert_eq "$(cat "$KNOB")" "$ORIG" "nr_hugepages after the daemon stopped"
[ -z "$CG" ] || [ ! -d "$CG/enclaved" ] || fail "the pool's cgroup is left behind"
echo PASS
