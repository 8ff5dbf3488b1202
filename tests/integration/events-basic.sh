#!/bin/bash
# Enclaves.Events through enclavectl: a subscriber sees its enclave's snapshot, STARTING,
# RUNNING (HEARTBEAT), TERMINATING and TERMINATED; a member's stream shows none of root's
# enclaves and cannot name one; run-enclave --wait follows the stream; console honours
# --disconnect-timeout; 20 subscribers killed without a goodbye leave no fd behind.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
command -v groupadd >/dev/null || skip "groupadd (passwd) is not installed"
getent passwd 65534 >/dev/null || skip "no user with uid 65534"

GROUP=enev$$
BG_PIDS=()
events_cleanup() {
	local rc=$?
	for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	groupdel "$GROUP" 2>/dev/null || true
	set +e # a failed test must still reach the common cleanup (daemon, VMMs, files)
	(exit $rc)
	cleanup
}
trap events_cleanup EXIT
groupadd "$GROUP"
GID=$(getent group "$GROUP" | cut -d: -f3)
cat >"$TEST_DIR/enclaved.conf" <<CONF
[daemon]
group = $GROUP

[pool]
cpu_count = 1
memory_mib = 256
hugepages = none
exclude_cpu0 = no
min_enclave_mib = 4
cpu_oversubscribe = 32
CONF
chmod 755 "$TEST_DIR"
start_daemon
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
as() { local uid=$1; shift; setpriv --reuid="$uid" --regid="$GID" --clear-groups "$@"; }
fds() { ls /proc/"$DAEMON_PID"/fd | wc -l; }
# wait_line FILE PATTERN WHAT: a line of FILE matches (grep -E) within 30 s
wait_line() {
	for _ in $(seq 300); do grep -qE -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "--- $1"; cat "$1" 2>/dev/null || true
	fail "$3"
}

"$ENCLAVECTL" events >"$TEST_DIR/root.ev" 2>"$TEST_DIR/root.err" &
BG_PIDS+=($!)
as 65534 "$ENCLAVECTL" events >"$TEST_DIR/member.ev" 2>"$TEST_DIR/member.err" &
BG_PIDS+=($!)
# Both streams are open once the daemon holds two more connections than the version call.
for _ in $(seq 100); do
	[ "$("$ENCLAVECTL" health | json 'd["Connections"]')" -ge 3 ] && break; sleep 0.1
done

out=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 \
	--debug-mode --enclave-name evroot) || fail "run-enclave: $out"
id=$(echo "$out" | json 'd["EnclaveID"]')
wait_line "$TEST_DIR/root.ev" "\"EnclaveID\":\"$id\",.*\"Kind\":\"STATE\",\"State\":\"STARTING\"" \
	"no STARTING event"
wait_line "$TEST_DIR/root.ev" "\"EnclaveID\":\"$id\",.*\"Kind\":\"HEARTBEAT\",\"State\":\"RUNNING\",\"StateReason\":\"heartbeat received\"" \
	"no RUNNING event with the heartbeat"
echo "ok: STARTING, then RUNNING on the heartbeat"

# A late subscriber gets the current state first.
timeout 10 "$ENCLAVECTL" events --enclave-id "$id" >"$TEST_DIR/late.ev" 2>&1 &
BG_PIDS+=($!)
wait_line "$TEST_DIR/late.ev" "\"Kind\":\"SNAPSHOT\",\"State\":\"RUNNING\"" "no snapshot for a late subscriber"
echo "ok: snapshot"

# The console stream ends by itself after --disconnect-timeout, exit 0, enclave untouched.
rc=0
timeout 30 "$ENCLAVECTL" console --enclave-id "$id" --disconnect-timeout 2 \
	>"$TEST_DIR/console" 2>&1 || rc=$?
assert_eq "$rc" 0 "console --disconnect-timeout exit code"
grep -q "sample-enclave: ready" "$TEST_DIR/console" || fail "console replay missing"
assert_eq "$("$ENCLAVECTL" describe-enclaves | json 'd[0]["State"]')" RUNNING "state after console"
echo "ok: console --disconnect-timeout"

# A member cannot name root's enclave; its stream never shows it.
rc=0
as 65534 timeout 10 "$ENCLAVECTL" events --enclave-id "$id" >/dev/null 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 15 "member subscribing to root's enclave (NOT_FOUND)"

# run-enclave --wait of a member follows its own enclave through the stream.
cp "$SAMPLE_EIF" "$TEST_DIR/mine.eif"; chmod 644 "$TEST_DIR/mine.eif"
as 65534 "$ENCLAVECTL" run-enclave --eif-path "$TEST_DIR/mine.eif" --memory 32 --cpu-count 1 \
	--enclave-name evmember --wait >"$TEST_DIR/wait.out" 2>"$TEST_DIR/wait.err" &
WAIT_PID=$!
BG_PIDS+=($WAIT_PID)
wait_line "$TEST_DIR/member.ev" "\"EnclaveName\":\"evmember\",.*\"State\":\"RUNNING\"" \
	"member's stream misses its own enclave"
mid=$(json 'd["EnclaveID"]' <"$TEST_DIR/wait.out")

"$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null || fail "terminate"
wait_line "$TEST_DIR/root.ev" "\"EnclaveID\":\"$id\",.*\"State\":\"TERMINATING\"" "no TERMINATING event"
wait_line "$TEST_DIR/root.ev" "\"EnclaveID\":\"$id\",.*\"Kind\":\"STATE\",\"State\":\"TERMINATED\"" \
	"no TERMINATED event"
echo "ok: TERMINATING, TERMINATED"

as 65534 "$ENCLAVECTL" terminate-enclave --enclave-id "$mid" >/dev/null || fail "member terminate"
rc=0
wait "$WAIT_PID" || rc=$?
assert_eq "$rc" 0 "run-enclave --wait exit code after terminate"
grep -q "enclave $mid terminated" "$TEST_DIR/wait.err" || fail "wait: $(cat "$TEST_DIR/wait.err")"
wait_line "$TEST_DIR/root.ev" "\"EnclaveID\":\"$mid\",.*\"State\":\"TERMINATED\"" \
	"root does not see the member's enclave end"
grep -q "$id" "$TEST_DIR/member.ev" && fail "member's stream shows root's enclave"
echo "ok: member sees only its own enclaves; run-enclave --wait via Events"

# 20 subscribers that vanish (SIGKILL, no goodbye): the daemon's fds come back to baseline.
kill -KILL "${BG_PIDS[@]}" 2>/dev/null || true
wait "${BG_PIDS[@]}" 2>/dev/null || true
BG_PIDS=()
for _ in $(seq 100); do
	[ "$("$ENCLAVECTL" health | json 'd["Connections"]')" = 1 ] && break; sleep 0.1
done
base=$(fds)
for i in $(seq 20); do
	"$ENCLAVECTL" events >"$TEST_DIR/many.$i" 2>&1 &
	BG_PIDS+=($!)
done
for _ in $(seq 100); do [ "$(fds)" -ge $((base + 20)) ] && break; sleep 0.1; done
[ "$(fds)" -ge $((base + 20)) ] || fail "20 subscribers: $(fds) fds, baseline $base"
kill -KILL "${BG_PIDS[@]}"
wait "${BG_PIDS[@]}" 2>/dev/null || true
BG_PIDS=()
for _ in $(seq 100); do [ "$(fds)" = "$base" ] && break; sleep 0.1; done
assert_eq "$(fds)" "$base" "daemon fd count after 20 vanished subscribers"
kill -0 "$DAEMON_PID" || fail "daemon died"
echo "ok: 20 vanished subscribers, fds back to $base"
