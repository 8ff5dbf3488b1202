#!/bin/bash
# The pool reserves real 2 MiB hugepages through sysfs, hands out hugetlb memfds, resizes live,
# refuses to shrink under a lease, and gives everything back: checked in /proc/meminfo.
# Uses a private cpuset cgroup under the real v1 hierarchy when there is one.
. "$top_srcdir/tests/integration/lib.sh"
need_root

TOOL=$top_builddir/tests/pool-tool
KNOB=/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
[ -w "$KNOB" ] || skip "no writable 2 MiB hugepage knob at $KNOB"
[ -x "$TOOL" ] || fail "$TOOL not built"
CPU=$(cut -d, -f1 /sys/devices/system/cpu/online | sed 's/.*-//')
[ "$(cat /sys/devices/system/cpu/cpu$CPU/topology/thread_siblings_list)" = "$CPU" ] ||
	skip "CPU $CPU has SMT siblings; this test wants a single-thread core"

ORIG=$(cat "$KNOB")
CG=
restore() {
	echo "$ORIG" >"$KNOB" || true
	if [ -n "$CG" ]; then
		rmdir "$CG"/enclaved/* "$CG/enclaved" "$CG" 2>/dev/null || true
	fi
	[ "$(cat "$KNOB")" = "$ORIG" ] || echo "WARNING: nr_hugepages not restored to $ORIG"
}
# Also on failure: put the knob back, then lib.sh's cleanup with the test's exit status.
on_exit() {
	local rc=$?
	restore
	(exit $rc)
	cleanup
}
trap on_exit EXIT

CGROUP_ARG=none
if [ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]; then
	CG=/sys/fs/cgroup/cpuset/pool-test.$$
	mkdir "$CG"
	cat /sys/fs/cgroup/cpuset/cpuset.cpus >"$CG/cpuset.cpus"
	cat /sys/fs/cgroup/cpuset/cpuset.mems >"$CG/cpuset.mems"
	CGROUP_ARG=$CG
fi

BASE=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
# A shell check the tool runs between its verbs: HugePages_Total is BASE + $1.
at() { echo "[ \$(awk '/^HugePages_Total/ {print \$2}' /proc/meminfo) -eq $((BASE + $1)) ]"; }

"$TOOL" --cgroup-root "$CGROUP_ARG" --state-dir "$TEST_DIR" \
	--set cpu_pool="$CPU" --set exclude_cpu0=no --set hugepages=2M --set memory_mib=8 \
	--set min_enclave_mib=4 \
	sh "$(at 4)" \
	alloc e1 1 4 \
	describe \
	sh "[ \$(awk '/^HugePages_Free/ {print \$2}' /proc/meminfo) -le $((BASE + 2)) ]" \
	resize 16 \
	sh "$(at 8)" \
	'!resize' 2 \
	'!alloc' e2 1 4 \
	sh "$(at 8)" \
	release e1 \
	resize 4 \
	sh "$(at 2)" \
	teardown \
	sh "$(at 0)" >"$TEST_DIR/out" 2>&1 || { cat "$TEST_DIR/out"; fail "pool-tool run failed"; }
cat "$TEST_DIR/out"
grep -q '"page_size_kib":2048' "$TEST_DIR/out" || grep -q '"page_size_kib": 2048' "$TEST_DIR/out" ||
	fail "describe did not report 2 MiB pages"
grep -q 'refused as expected: resize: .*e1' "$TEST_DIR/out" || fail "shrink refusal did not name e1"
grep -q 'refused as expected: alloc: .*not enough free CPUs' "$TEST_DIR/out" ||
	fail "second enclave was not refused for CPUs"
if [ -n "$CG" ]; then
	grep -q '"isolation": *"cgroup"' "$TEST_DIR/out" || fail "isolation should be cgroup"
	[ ! -d "$CG/enclaved" ] || fail "teardown left $CG/enclaved"
fi
grep -q '"memory_mib": *4' "$TEST_DIR/pool.json" || fail "pool.json does not hold the resized pool"
assert_eq "$(cat "$KNOB")" "$ORIG" "nr_hugepages after teardown"
echo "PASS: reserved, leased, resized and released real 2 MiB hugepages"
