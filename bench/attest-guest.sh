#!/bin/bash
# Attestation documents through the whole path: the host asks the sample enclave on vsock port
# 5001 (32-byte nonce), the guest asks its virtio-nsm device, the VMM forwards the request to
# enclaved, which signs (ES384) and answers. Measures documents/s and the host-observed round
# trip p50/p99 against `openssl speed -seconds 3 ecdsap384` run before and after in the same run;
# rewrites the "| attestation documents signed/s (guest" and "| attestation request latency"
# rows of bench/RESULTS.md.
# Usage: bench/attest-guest.sh BUILD-DIR [SECONDS]      (default 20)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
build=$(cd "${1:?usage: $0 BUILD-DIR [SECONDS]}" && pwd)
secs=${2:-20}
for f in enclaved/enclaved ctl/enclavectl vmm/enclave-vmm guest/sample-enclave.eif; do
	[ -e "$build/$f" ] || { echo "SKIP: $build/$f is not built"; exit 77; }
done
[ -c /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is absent or not writable"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }

dir=$(mktemp -d /tmp/attest-bench.XXXXXX)
pid=
cleanup() {
	bench_stop_daemon "$build" "$dir" "$dir/enclaved.sock" "$pid"
	rm -rf "$dir"
}
trap cleanup EXIT
export ENCLAVED_SOCKET=$dir/enclaved.sock
bench_start_daemon "$build" "$dir" "$ENCLAVED_SOCKET"
pid=$BENCH_DAEMON_PID
out=$("$build/ctl/enclavectl" run-enclave --eif-path "$build/guest/sample-enclave.eif" \
	--memory 32 --cpu-count 1 --enclave-name bench 2>/dev/null) ||
	{ cat "$dir/enclaved.log"; echo "run-enclave failed"; exit 1; }
vsock=$("$build/ctl/enclavectl" describe-enclaves |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["VsockSocket"])')

speed() { openssl speed -seconds 3 ecdsap384 2>/dev/null | awk '/ecdsa \(nistp384\)/ {print $(NF-1)}'; }
before=$(speed)
loop=$(python3 "$top/tests/integration/attest-helper.py" attest-loop "$vsock" "$secs")
after=$(speed)
echo "openssl ecdsap384 sign/s before $before after $after; guest loop $loop"

cmd="scripts/dev-make build/<dir> enclaved/enclaved ctl/enclavectl vmm/enclave-vmm guest/sample-enclave.eif && bench/attest-guest.sh build/<dir>"
[ "$secs" = 20 ] || cmd="$cmd $secs"
rows=$(python3 - "$before" "$after" "$loop" "$cmd" <<'PY'
import json, sys
before, after, loop, cmd = float(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
ref = (before + after) / 2
rate = loop["per_second"]
sign_ms = 1000 / ref
print(f"| attestation documents signed/s (guest, through enclaved) | {rate:.0f} docs/s = "
      f"{rate / ref:.2f} x `openssl speed -seconds 3 ecdsap384` sign ({ref:.0f}/s, mean of runs "
      f"before and after); {loop['documents']} documents, each a fresh vsock connection to port "
      f"5001 with a 32-byte nonce: guest NSM Attestation -> enclave-vmm -> enclaved signs -> back, "
      f"one at a time (wall-clock rate) | `{cmd}` |")
print(f"| attestation request latency (host-measured round trip on port 5001, connect excluded) | "
      f"p50 {loop['p50_ms']:.2f} ms, p99 {loop['p99_ms']:.2f} ms = p50 {loop['p50_ms'] / sign_ms:.1f}x, "
      f"p99 {loop['p99_ms'] / sign_ms:.1f}x one openssl ES384 sign ({sign_ms:.2f} ms, same run); "
      f"{loop['documents']} requests | `{cmd}` |")
PY
)
echo "$rows"

bench_update_rows "$top/bench/RESULTS.md" "$rows"
