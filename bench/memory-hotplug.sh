#!/bin/bash
# Memory hotplug speed: seconds per GiB plugged, host-observed: from the SIGUSR1 that asks a
# running sample enclave (enclave-vmm --standalone, 64 MiB boot, 1088 MiB max) for 1 GiB more
# until its console says `memory plugged=1024 MiB`. That span includes the VMM's fallocate of
# each block and the guest writing then verifying every 64-bit word of the new GiB. Also the
# shrink back (hole punch). Reference, same run: a host process first-touching 1 GiB of a
# memfd with memset (python mmap slice assignment), the cheapest way the host gets that memory.
# Usage: bench/memory-hotplug.sh BUILD_DIR [RUNS]   (updates the "| memory hotplug" row)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
build=$(cd "${1:?build dir}" && pwd)
runs=${2:-3}
eif=$build/guest/sample-enclave.eif
vmm=$build/vmm/enclave-vmm
[ -f "$eif" ] || { echo "no $eif: build it first"; exit 1; }
[ -x "$vmm" ] || { echo "no $vmm: build it first"; exit 1; }
[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 77; }
rundir=$(mktemp -d /tmp/memory-hotplug-bench.XXXXXX)
trap 'rm -rf "$rundir"' EXIT
python3 - "$eif" "$runs" "$top/bench/RESULTS.md" "$vmm" "$rundir" <<'PY'
import benchlib, mmap, os, signal, statistics, subprocess, sys, time
eif, runs, results, vmm, rundir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
GIB = 1 << 30

def wait_line(path, text, proc, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(path, "rb") as f:
                if text.encode() in f.read():
                    return time.monotonic()
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"enclave-vmm exited: {proc.returncode}")
        time.sleep(0.002)
    raise SystemExit(f"timeout waiting for {text!r}")

def hotplug_run(i):
    run = os.path.join(rundir, f"r{i}")
    os.makedirs(run)
    con = os.path.join(run, "console")
    p = subprocess.Popen([vmm, "--standalone", "--eif", eif, "--memory-mib", "64",
                          "--max-memory-mib", "1088", "--cpus", "0", "--debug",
                          "--runtime-dir", run, "--console", con],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_line(con, "sample-enclave: ready", p)
        with open(os.path.join(run, "mem-request"), "w") as f:
            f.write("1088\n")
        t0 = time.monotonic(); p.send_signal(signal.SIGUSR1)
        grow = wait_line(con, "memory plugged=1024 MiB", p) - t0
        with open(os.path.join(run, "mem-request"), "w") as f:
            f.write("64\n")
        t0 = time.monotonic(); p.send_signal(signal.SIGUSR1)
        shrink = wait_line(con, "memory plugged=0 MiB", p) - t0
        return grow, shrink
    finally:
        p.terminate(); p.wait()

def memset_run():
    fd = os.memfd_create("bench-ref")
    try:
        os.ftruncate(fd, GIB)
        m = mmap.mmap(fd, GIB)
        chunk = b"\x5a" * (2 << 20)
        t0 = time.monotonic()
        for off in range(0, GIB, len(chunk)):
            m[off:off + len(chunk)] = chunk
        t = time.monotonic() - t0
        m.close()
        return t
    finally:
        os.close(fd)

ref, grows, shrinks = [], [], []
for i in range(runs):
    ref.append(memset_run())
    g, s = hotplug_run(i)
    grows.append(g); shrinks.append(s)
ref.append(memset_run())
g, s, r = statistics.median(grows), statistics.median(shrinks), statistics.median(ref)
row = (f"| memory hotplug | host-observed, median of {runs}: grow a running sample enclave by "
       f"1 GiB (virtio-mem, 2 MiB blocks, fallocate + guest writes and verifies every word) "
       f"{g:.2f} s/GiB = {g / r:.1f}x a host memset first-touch of a 1 GiB memfd "
       f"({r:.2f} s/GiB, reference, same run); shrink (hole punch) {s:.2f} s/GiB | "
       f"`bench/memory-hotplug.sh build/<dir>` |")
print(row)
benchlib.update_rows(results, [row])
PY
