#!/bin/bash
# Live memory resize with virtio-mem. Standalone enclave-vmm first: the sample enclave boots
# with 64 MiB and a 256 MiB maximum, grows to 256 MiB (its driver writes and checks every word
# of every new block), shrinks back to 64 MiB; the VMM's memfd holds exactly the plugged
# blocks at each step (fallocate on plug, hole punch on unplug); a request beyond the maximum
# is refused. Then the same under the sandbox (seccomp must allow the backing calls). Then
# through enclaved: Resize reserves in the pool up front, refuses beyond the pool or the
# maximum (RESOURCE_EXHAUSTED), and the pool's free memory follows each step.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
VMM=$ENCLAVE_VMM
[ -x "$VMM" ] || skip "enclave-vmm is not built"
[ -f "$SAMPLE_EIF" ] || skip "$SAMPLE_EIF is not built"
MIB=$((1 << 20))

wait_console() { # file pattern pid
	for _ in $(seq 600); do
		tr -d '\r' 2>/dev/null <"$1" | grep -q -- "$2" && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.05
	done
	echo "--- console"; cat "$1" 2>/dev/null || true
	echo "--- vmm log"; cat "$TEST_DIR/vmm.log" 2>/dev/null || true
	fail "no console line '$2'"
}

# Bytes the VMM's guest-memory memfd holds (its allocated blocks).
memfd_bytes() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		case "$(readlink "$fd")" in "/memfd:enclave-ram"*)
			echo $(($(stat -L -c '%b * %B' "$fd")))
			return 0 ;;
		esac
	done
	fail "no enclave-ram memfd in /proc/$1/fd"
}

near() { # actual expected what: within 4 MiB (the boot memory the guest touches meanwhile)
	local d=$(($1 - $2))
	[ ${d#-} -le $((4 * MIB)) ] || fail "$3: $(($1 / MIB)) MiB, expected $(($2 / MIB)) MiB"
	echo "ok: $3 ($(($1 / MIB)) MiB)"
}

resize() { # total-MiB
	echo "$1" >"$RUN/mem-request"
	kill -USR1 "$VMM_PID"
}

RUN=$TEST_DIR/run
mkdir -p "$RUN"
"$VMM" --standalone --eif "$SAMPLE_EIF" --memory-mib 64 --max-memory-mib 256 --cpus 0 \
	--cid 16 --debug --runtime-dir "$RUN" --console "$TEST_DIR/console.log" \
	>"$TEST_DIR/vmm.log" 2>&1 &
VMM_PID=$!
wait_console "$TEST_DIR/console.log" "^sample-enclave: ready cid=16" "$VMM_PID"
grep -q "memory device failed" "$TEST_DIR/console.log" && fail "guest could not start virtio-mem"
BASE=$(memfd_bytes "$VMM_PID")

resize 256
wait_console "$TEST_DIR/console.log" "^sample-enclave: memory plugged=192 MiB" "$VMM_PID"
grep -q "check failed" "$TEST_DIR/console.log" && fail "guest memory check failed"
near "$(memfd_bytes "$VMM_PID")" $((BASE + 192 * MIB)) "memfd after growing to 256 MiB"

resize 64
wait_console "$TEST_DIR/console.log" "^sample-enclave: memory plugged=0 MiB" "$VMM_PID"
near "$(memfd_bytes "$VMM_PID")" "$BASE" "memfd after shrinking to 64 MiB"

resize 128
wait_console "$TEST_DIR/console.log" "^sample-enclave: memory plugged=64 MiB" "$VMM_PID"
near "$(memfd_bytes "$VMM_PID")" $((BASE + 64 * MIB)) "memfd at 128 MiB"

# Beyond the maximum, below boot memory, misaligned: refused, nothing changes.
for bad in 512 32 129; do
	resize $bad
	for _ in $(seq 100); do
		grep -q "'$bad' is not a total size" "$TEST_DIR/vmm.log" && break
		sleep 0.05
	done
	grep -q "'$bad' is not a total size" "$TEST_DIR/vmm.log" || fail "resize to $bad not refused"
done
near "$(memfd_bytes "$VMM_PID")" $((BASE + 64 * MIB)) "memfd after refused resizes"
grep -c "memory plugged=" "$TEST_DIR/console.log" | grep -qx 3 || fail "unexpected resize lines"
kill -TERM "$VMM_PID"
wait "$VMM_PID" || true
echo "ok: standalone grow, shrink, refusals"

# Under the sandbox (own uid, seccomp): timed resizes, the VMM must survive them.
"$VMM" --standalone --eif "$SAMPLE_EIF" --memory-mib 64 --max-memory-mib 256 --cpus 0 \
	--cid 17 --debug --runtime-dir "$RUN" --console "$TEST_DIR/console2.log" \
	--sandbox-uid 65534 --sandbox-gid 65534 \
	--resize-after-ms 0:256 --resize-after-ms 8000:64 >"$TEST_DIR/vmm.log" 2>&1 &
VMM_PID=$!
wait_console "$TEST_DIR/console2.log" "^sample-enclave: memory plugged=192 MiB" "$VMM_PID"
wait_console "$TEST_DIR/console2.log" "^sample-enclave: memory plugged=0 MiB" "$VMM_PID"
kill -0 "$VMM_PID" || fail "sandboxed enclave-vmm died"
kill -TERM "$VMM_PID"
wait "$VMM_PID" || true
echo "ok: sandboxed grow and shrink"

# Through the daemon: a 320 MiB pool, the enclave boots with 64 MiB and a 512 MiB maximum.
[ -x "$ENCLAVED" ] && [ -x "$ENCLAVECTL" ] || skip "enclaved or enclavectl is not built"
cat >"$TEST_DIR/enclaved.conf" <<CONF
[pool]
cpu_count = 1
memory_mib = 320
hugepages = none
exclude_cpu0 = no
min_enclave_mib = 4
CONF
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
free_mib() { "$ENCLAVECTL" pool | json 'd["FreeMemoryMiB"]'; }

out=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 64 --max-memory 512 \
	--cpu-count 1 --debug-mode --enclave-name resize) || fail "run-enclave: $out"
id=$(echo "$out" | json 'd["EnclaveID"]')
assert_eq "$(free_mib)" 256 "pool free with 64 MiB booted"
timeout 60 "$ENCLAVECTL" console --enclave-id "$id" >"$TEST_DIR/dconsole" 2>&1 &
wait_console "$TEST_DIR/dconsole" "sample-enclave: ready" "$DAEMON_PID"

wait_free() { # expected what
	for _ in $(seq 200); do [ "$(free_mib)" = "$1" ] && break; sleep 0.05; done
	assert_eq "$(free_mib)" "$1" "$2"
	echo "ok: $2 ($1 MiB free)"
}
vmm_pid=$("$ENCLAVECTL" describe-enclaves | json 'd[0]["ProcessID"]')

out=$("$ENCLAVECTL" resize-enclave --enclave-id "$id" --memory 256) || fail "grow: $out"
# Reserved up front: free drops at once, before the guest plugs anything.
assert_eq "$(free_mib)" 64 "pool free right after the grow request"
wait_console "$TEST_DIR/dconsole" "sample-enclave: memory plugged=192 MiB" "$DAEMON_PID"
wait_free 64 "pool free at 256 MiB"
for _ in $(seq 100); do
	[ "$("$ENCLAVECTL" describe-enclaves | json 'd[0]["MemoryMiB"]')" = 256 ] && break
	sleep 0.05
done
assert_eq "$("$ENCLAVECTL" describe-enclaves | json 'd[0]["MemoryMiB"]')" 256 "MemoryMiB at 256"

# Beyond the pool (needs 256 more, 64 free) and beyond the maximum: refused up front.
if out=$("$ENCLAVECTL" resize-enclave --enclave-id "$id" --memory 512 2>&1); then
	fail "grow beyond the pool accepted: $out"; fi
echo "$out" | grep -qi "not enough memory" || fail "beyond-pool refusal: $out"
if out=$("$ENCLAVECTL" resize-enclave --enclave-id "$id" --memory 514 2>&1); then
	fail "grow beyond the maximum accepted: $out"; fi
echo "$out" | grep -qi "maximum" || fail "beyond-max refusal: $out"
assert_eq "$(free_mib)" 64 "pool free after refusals"

out=$("$ENCLAVECTL" resize-enclave --enclave-id "$id" --memory 64) || fail "shrink: $out"
wait_console "$TEST_DIR/dconsole" "sample-enclave: memory plugged=0 MiB" "$DAEMON_PID"
wait_free 256 "pool free back at 64 MiB"
grep -q "check failed" "$TEST_DIR/dconsole" && fail "guest memory check failed"

"$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null || fail "terminate"
wait_free 320 "pool whole after terminate"
