#!/bin/bash
# The VMM that runs the guest (the child sandbox_fork_pid_ns makes, not the outer process that
# only waits) runs as the [vmm] user: every uid and gid that account's, no supplementary
# groups, no capabilities in any set (CapInh/CapPrm/CapEff/CapBnd/CapAmb all zero),
# NoNewPrivs 1, Seccomp 2 (filter) on every thread, its own network, PID and mount namespaces
# with an empty root; the outer process holds nothing but stdio.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
for c in useradd userdel; do command -v $c >/dev/null || skip "$c is not installed"; done
VMM_USER=encv$$
sandbox_cleanup() {
	local rc=$?
	userdel "$VMM_USER" 2>/dev/null || true
	set +e
	(exit $rc)
	cleanup
}
trap sandbox_cleanup EXIT
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$VMM_USER"
VUID=$(id -u "$VMM_USER"); VGID=$(id -g "$VMM_USER")
cat >"$TEST_DIR/enclaved.conf" <<CONF
[pool]
cpu_count = 1
memory_mib = 256
hugepages = none
exclude_cpu0 = no
min_enclave_mib = 4
cpu_oversubscribe = 32

[vmm]
user = $VMM_USER
CONF
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
out=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 16 --cpu-count 1) || fail "run: $out"
outer=$(echo "$out" | json 'd["ProcessID"]')
vmm=$(awk '{print $1}' "/proc/$outer/task/$outer/children")
[ -n "$vmm" ] || fail "no VMM child under the outer process $outer"
field() { awk -v k="$1:" '$1 == k {$1 = ""; sub(/^ /, ""); print}' "$2"; }
st=/proc/$vmm/status
echo "VMM pid $vmm (outer $outer):"; grep -E '^(Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp)' "$st"
assert_eq "$(field Uid "$st")" "$VUID $VUID $VUID $VUID" "VMM uids"
assert_eq "$(field Gid "$st")" "$VGID $VGID $VGID $VGID" "VMM gids"
assert_eq "$(field Groups "$st")" "" "VMM supplementary groups"
for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
	assert_eq "$(field $cap "$st")" 0000000000000000 "VMM $cap"
done
assert_eq "$(field NoNewPrivs "$st")" 1 "VMM NoNewPrivs"
for task in /proc/$vmm/task/*; do
	assert_eq "$(field Seccomp "$task/status")" 2 "Seccomp of thread ${task##*/} ($(cat "$task/comm"))"
done
[ "$(ls /proc/$vmm/task | wc -l)" -ge 2 ] || fail "expected the event thread and a vCPU thread"
for ns in net pid mnt ipc uts; do
	[ "$(readlink /proc/$vmm/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] || fail "VMM shares the host's $ns namespace"
done
# Its root holds only the runtime directory (for the vsock sockets).
echo "VMM root: $(cd "/proc/$vmm/root" && find . -maxdepth 3 | tr '\n' ' ')"
# The outer process only waits: nothing open but stdio.
assert_eq "$(ls "/proc/$outer/fd" | sort -n | tr '\n' ' ')" "0 1 2 " "outer process fds"
[ -z "$(ls /proc/$vmm/root/etc 2>/dev/null)" ] || fail "VMM sees /etc"
"$ENCLAVECTL" terminate-enclave --all >/dev/null || fail "terminate"
echo PASS
