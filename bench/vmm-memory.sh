#!/bin/bash
# VMM memory overhead: the VMM process's resident memory minus the guest RAM it has touched,
# for the same idle guest (the sample enclave ELF, 256 MiB) under enclave-vmm and under
# QEMU 7.2 microvm -kernel (PVH), measured in the same run. Guest RAM is a memfd in both
# (enclave-vmm always; QEMU through memory-backend-memfd), so it shows up as RssShmem and
# overhead = VmRSS - RssShmem (own heap, stacks, binaries and libraries).
# Usage: bench/vmm-memory.sh BUILD_DIR [RUNS]   (updates the "| VMM memory overhead" row)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
build=$(cd "${1:?build dir}" && pwd)
runs=${2:-5}
elf=$build/guest/sample-enclave.elf
vmm=$build/vmm/enclave-vmm
[ -f "$elf" ] || { echo "no $elf: build it first"; exit 1; }
[ -x "$vmm" ] || { echo "no $vmm: build it first"; exit 1; }
[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 77; }
rundir=$(mktemp -d /tmp/vmm-memory-bench.XXXXXX)
trap 'rm -rf "$rundir"' EXIT
python3 - "$elf" "$runs" "$top/bench/RESULTS.md" "$vmm" "$rundir" <<'PY'
import benchlib, subprocess, sys, time, statistics, os
elf, runs, results, vmm, rundir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                out[k] = int(v.split()[0])
    return out

def measure(cmd, marker):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"{cmd[0]} ended before '{marker}'")
            if marker in line:
                break
        time.sleep(0.5)  # settle: the guest idles now
        s = status(p.pid)
        return s["VmRSS"] - s.get("RssShmem", 0), s.get("RssShmem", 0)
    finally:
        p.kill(); p.wait()

ours_cmd = [vmm, "--standalone", "--kernel", elf, "--memory-mib", "256", "--cpus", "0",
            "--cid", "16", "--debug", "--runtime-dir", rundir]
qemu_cmd = benchlib.qemu_microvm(elf, mem_mib=256, memfd=True, append=None)
ours, qemu = [], []
for _ in range(runs):
    ours.append(measure(ours_cmd, b"sample-enclave: ready"))
    qemu.append(measure(qemu_cmd, b"idle ok"))
o = statistics.median(x[0] for x in ours) / 1024
og = statistics.median(x[1] for x in ours) / 1024
q = statistics.median(x[0] for x in qemu) / 1024
qg = statistics.median(x[1] for x in qemu) / 1024
print(f"enclave-vmm overhead {o:.1f} MiB (guest RAM touched {og:.1f} MiB); "
      f"QEMU {q:.1f} MiB (guest {qg:.1f} MiB)")
row = (f"| VMM memory overhead | VmRSS - guest RAM (RssShmem) with the sample enclave idle, 256 MiB, "
       f"median of {runs}: enclave-vmm {o:.1f} MiB vs QEMU 7.2 microvm -kernel (PVH, memfd RAM, "
       f"reference) {q:.1f} MiB = {o / q:.2f}x QEMU (guest RAM touched: {og:.1f} / {qg:.1f} MiB) "
       f"| `bench/vmm-memory.sh build/<dir>` |")
benchlib.update_rows(results, [row])
print(row)
PY
