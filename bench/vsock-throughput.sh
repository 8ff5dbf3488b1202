#!/bin/bash
# Boot the sample enclave under a standalone enclave-vmm and measure its vsock data path with
# bench/vsock-throughput (throughput on ports 5003/5004, connection setup on 5000), each against
# a plain unix socket in the same run; rewrite the "| vsock" rows of bench/RESULTS.md.
# Usage: bench/vsock-throughput.sh BUILD-DIR [MIB] [CONNECTIONS]    (defaults: 1024, 300)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
build=$(cd "${1:?usage: $0 BUILD-DIR [MIB] [CONNECTIONS]}" && pwd)
mib=${2:-1024}
conns=${3:-300}
vmm=$build/vmm/enclave-vmm
eif=$build/guest/sample-enclave.eif
prog=$build/bench/vsock-throughput
for f in "$vmm" "$eif" "$prog"; do [ -e "$f" ] || { echo "SKIP: $f is not built"; exit 77; }; done
[ -c /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is absent or not writable"; exit 77; }

dir=$(mktemp -d /tmp/vsock-bench.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/run"
# No --debug: a production-mode enclave, no console exits. Readiness is the socket answering.
"$vmm" --standalone --eif "$eif" --memory-mib 64 --cpus 0 --cid 16 --runtime-dir "$dir/run" \
	>"$dir/vmm.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
	grep -q "heartbeat answered" "$dir/vmm.log" && break
	kill -0 "$pid" 2>/dev/null || { cat "$dir/vmm.log"; exit 1; }
	sleep 0.1
done
grep -q "heartbeat answered" "$dir/vmm.log" || { cat "$dir/vmm.log"; echo "no heartbeat"; exit 1; }

cmd="scripts/dev-make build/<dir> bench/vsock-throughput guest/sample-enclave.eif vmm/enclave-vmm && bench/vsock-throughput.sh build/<dir>"
if [ "$conns" != 300 ]; then cmd="$cmd $mib $conns"; elif [ "$mib" != 1024 ]; then cmd="$cmd $mib"; fi
rows=$("$prog" --socket "$dir/run/vsock.sock" --mib "$mib" --connections "$conns" --command "$cmd")
echo "$rows"
kill -0 "$pid" 2>/dev/null || { cat "$dir/vmm.log"; echo "enclave-vmm died"; exit 1; }

bench_update_rows "$top/bench/RESULTS.md" "$rows"
