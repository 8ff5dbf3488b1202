#!/bin/bash
# Enclave launch through the whole stack (enclavectl -> enclaved -> enclave-vmm -> sample
# enclave), against QEMU microvm booting the same ELF (PVH) in the same run.
#   launch latency: RPC sent -> Run reply (boot heartbeat) and -> ready line on the console,
#     p50/p95 over RUNS launches; QEMU: exec -> first COM1 line and -> its 'idle' line.
#   enclaves launched per second: 2 clients, each run-enclave + terminate-enclave in a loop;
#     QEMU: 2 parallel loops of exec -> first line -> kill.
# Usage: bench/launch.sh BUILD_DIR [RUNS]   (updates the "| launch latency" and
# "| enclaves launched per second" rows of bench/RESULTS.md)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
build=$(cd "${1:?build dir}" && pwd)
runs=${2:-50}
[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 77; }
for f in enclaved/enclaved ctl/enclavectl vmm/enclave-vmm guest/sample-enclave.eif guest/sample-enclave.elf; do
	[ -e "$build/$f" ] || { echo "no $build/$f: build it first"; exit 1; }
done
dir=$(mktemp -d /tmp/launch-bench.XXXXXX)
daemon=
cleanup() {
	bench_stop_daemon "$build" "$dir" "$dir/sock" "$daemon"
	rm -rf "$dir"
}
trap cleanup EXIT
bench_start_daemon "$build" "$dir" "$dir/sock" 32 --cgroup-root none
daemon=$BENCH_DAEMON_PID
export ENCLAVED_SOCKET=$dir/sock

python3 - "$build" "$runs" "$top/bench/RESULTS.md" <<'PY'
import benchlib, json, os, subprocess, sys, threading, time
build, runs, results = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctl, eif, elf = f"{build}/ctl/enclavectl", f"{build}/guest/sample-enclave.eif", f"{build}/guest/sample-enclave.elf"

def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]

def launch_attached():
    """Run with --attach-console: (ms to Run reply, ms to ready line, id)."""
    t0 = time.monotonic()
    p = subprocess.Popen([ctl, "run-enclave", "--eif-path", eif, "--memory", "16", "--cpu-count", "1",
                          "--attach-console"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    text, reply, ready = b"", None, None
    while ready is None:
        line = p.stdout.readline()
        if not line: raise SystemExit("run-enclave ended early")
        text += line
        if line.startswith(b"}") and reply is None:
            reply = (time.monotonic() - t0) * 1e3
            eid = json.loads(text)["EnclaveID"]
        if b"sample-enclave: ready" in line:
            ready = (time.monotonic() - t0) * 1e3
    p.kill(); p.wait()
    subprocess.run([ctl, "terminate-enclave", "--enclave-id", eid], stdout=subprocess.DEVNULL, check=True)
    return reply, ready

qemu = benchlib.qemu_microvm(elf)

def qemu_boot(until_idle=True):
    t0 = time.monotonic()
    p = subprocess.Popen(qemu, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline(); first = (time.monotonic() - t0) * 1e3
    while until_idle and line and b"idle" not in line:
        line = p.stdout.readline()
    idle = (time.monotonic() - t0) * 1e3
    p.kill(); p.wait()
    return first, idle

reply, ready, qfirst, qidle = [], [], [], []
for _ in range(runs):           # interleaved, so that both see the same machine state
    r, c = launch_attached(); reply.append(r); ready.append(c)
    f, i = qemu_boot(); qfirst.append(f); qidle.append(i)

def rate(fn, total, clients=2):
    per = total // clients
    def loop():
        for _ in range(per): fn()
    ts = [threading.Thread(target=loop) for _ in range(clients)]
    t0 = time.monotonic()
    for t in ts: t.start()
    for t in ts: t.join()
    return per * clients / (time.monotonic() - t0)

def one_enclave():
    out = subprocess.run([ctl, "run-enclave", "--eif-path", eif, "--memory", "16", "--cpu-count", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    subprocess.run([ctl, "terminate-enclave", "--enclave-id", json.loads(out)["EnclaveID"]],
                   stdout=subprocess.DEVNULL, check=True)

ours_rate = rate(one_enclave, 40)
qemu_rate = rate(lambda: qemu_boot(until_idle=False), 40)
print(f"Run reply p50 {pct(reply,50):.1f} p95 {pct(reply,95):.1f} ms; ready line p50 {pct(ready,50):.1f} "
      f"p95 {pct(ready,95):.1f} ms; QEMU first line p50 {pct(qfirst,50):.1f} p95 {pct(qfirst,95):.1f}, "
      f"idle line p50 {pct(qidle,50):.1f} p95 {pct(qidle,95):.1f} ms; {ours_rate:.2f} vs {qemu_rate:.2f} launches/s")
rows = {
 "| launch latency": f"| launch latency | {runs} launches of the sample enclave (16 MiB, 1 vCPU, debug), enclavectl run-enclave --attach-console: RPC sent -> Run reply (boot heartbeat) p50 {pct(reply,50):.1f} ms, p95 {pct(reply,95):.1f} ms; -> ready line p50 {pct(ready,50):.1f} ms, p95 {pct(ready,95):.1f} ms = p50 {pct(ready,50)/pct(qidle,50):.2f}x, p95 {pct(ready,95)/pct(qidle,95):.2f}x QEMU 7.2 microvm -kernel (PVH, same ELF, reference, interleaved) to its 'idle' line (p50 {pct(qidle,50):.1f}, p95 {pct(qidle,95):.1f} ms; first COM1 line p50 {pct(qfirst,50):.1f} ms) | `bench/launch.sh build/<dir>` |",
 "| enclaves launched per second": f"| enclaves launched per second | 2 clients, each run-enclave (reply at the heartbeat) + terminate-enclave in a loop, 40 enclaves: {ours_rate:.2f}/s = {ours_rate/qemu_rate:.2f}x QEMU microvm exec -> first COM1 line -> kill with 2 parallel loops ({qemu_rate:.2f}/s, same run) | `bench/launch.sh build/<dir>` |",
}
benchlib.update_rows(results, list(rows.values()))
PY
