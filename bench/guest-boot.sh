#!/bin/bash
# Boot-to-first-COM1-line of the sample enclave under QEMU microvm -kernel (PVH): the
# reference the launch-latency comparison of enclave-vmm is measured against.
# Usage: bench/guest-boot.sh BUILD_DIR [RUNS]   (updates the "| sample enclave boot" row)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
build=$(cd "${1:?build dir}" && pwd)
runs=${2:-11}
elf=$build/guest/sample-enclave.elf
[ -f "$elf" ] || { echo "no $elf: build it first"; exit 1; }
[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 77; }
vmm=$build/vmm/enclave-vmm
rundir=$(mktemp -d /tmp/guest-boot-bench.XXXXXX)
trap 'rm -rf "$rundir"' EXIT
python3 - "$elf" "$runs" "$top/bench/RESULTS.md" "$vmm" "$rundir" <<'PY'
import benchlib, os, subprocess, sys, time, statistics
elf, runs, results, vmm, rundir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
cmd = benchlib.qemu_microvm(elf)
first, idle = [], []
for _ in range(runs):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    t1 = time.monotonic()
    while b"idle" not in line and line:
        line = p.stdout.readline()
    t2 = time.monotonic()
    p.kill(); p.wait()
    first.append((t1 - t0) * 1e3); idle.append((t2 - t0) * 1e3)
f, i = statistics.median(first), statistics.median(idle)
print(f"QEMU -kernel (PVH): first COM1 line median {f:.1f} ms, 'idle ok' {i:.1f} ms over {runs} runs")
# The same ELF through our VMM (standalone, debug console on stdout), same run.
ours = "not built"
if os.access(vmm, os.X_OK):
    v = []
    for _ in range(runs):
        c = [vmm, "--standalone", "--kernel", elf, "--cmdline", "console=ttyS0",
             "--memory-mib", "16", "--cpus", "0", "--cid", "16", "--debug", "--runtime-dir", rundir]
        t0 = time.monotonic()
        p = subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        p.stdout.readline()
        v.append((time.monotonic() - t0) * 1e3)
        p.kill(); p.wait()
    m = statistics.median(v)
    ours = f"{m:.1f} ms = {m / f:.2f}x QEMU"
    print(f"enclave-vmm --standalone: first COM1 line median {m:.1f} ms")
row = (f"| sample enclave boot | exec to first COM1 line, median of {runs}: QEMU 7.2 microvm "
       f"-kernel (PVH, reference) {f:.1f} ms (to 'idle ok' {i:.1f} ms); enclave-vmm --standalone "
       f"(ELF entry) {ours} | `bench/guest-boot.sh build/<dir>` |")
benchlib.update_rows(results, [row])
PY
