#!/bin/bash
# enclavectl's command line: help, flag errors, exit codes, and requests reaching the daemon.
. "$top_srcdir/tests/integration/lib.sh"

expect_rc() { # expect_rc RC CMD...
	local want=$1 rc=0; shift
	"$@" >"$TEST_DIR/out" 2>"$TEST_DIR/err" || rc=$?
	assert_eq "$rc" "$want" "exit code of '$*' (stderr: $(head -c 300 "$TEST_DIR/err"))"
}

expect_rc 0 "$ENCLAVECTL" --help
cp "$TEST_DIR/out" "$TEST_DIR/help"
grep -q "17 PERMISSION_DENIED" "$TEST_DIR/help" || fail "--help lacks the exit code table"
for cmd in run-enclave describe-enclaves terminate-enclave resize-enclave console connect \
	attest pool pki version health; do
	grep -q "^  $cmd " "$TEST_DIR/help" || fail "--help does not list $cmd"
	expect_rc 0 "$ENCLAVECTL" "$cmd" --help
	grep -q "Usage: enclavectl $cmd" "$TEST_DIR/out" || fail "$cmd --help: no usage"
done
expect_rc 1 "$ENCLAVECTL"
expect_rc 1 "$ENCLAVECTL" no-such-command
grep -q "unknown command 'no-such-command'" "$TEST_DIR/err" || fail "unknown command message"
expect_rc 1 "$ENCLAVECTL" describe-enclaves --bogus
grep -q "unknown option '--bogus'" "$TEST_DIR/err" || fail "unknown option message"
expect_rc 1 "$ENCLAVECTL" run-enclave --eif-path x --memory 64
grep -q "exactly one of --cpu-count and --cpu-ids" "$TEST_DIR/err" || fail "cpu flag message"
expect_rc 1 "$ENCLAVECTL" run-enclave --eif-path x --memory lots --cpu-count 1
expect_rc 1 "$ENCLAVECTL" run-enclave --eif-path x --memory 64 --cpu-ids 3-1
expect_rc 1 "$ENCLAVECTL" terminate-enclave --all --enclave-id i-0-enc1
expect_rc 1 "$ENCLAVECTL" attest --enclave-id x --nonce abc
echo '{"eif_path": "x", "memory_mib": 64, "cpu_count": 1, "colour": 1}' >"$TEST_DIR/run.json"
expect_rc 1 "$ENCLAVECTL" run-enclave --config "$TEST_DIR/run.json"
grep -q "unknown key 'colour'" "$TEST_DIR/err" || fail "--config unknown key message"
expect_rc 1 "$ENCLAVECTL" run-enclave --config "$TEST_DIR/run.json" --memory 64
expect_rc 1 "$ENCLAVECTL" pki
expect_rc 1 "$ENCLAVECTL" pool resize

# No daemon: UNAVAILABLE.
expect_rc 24 "$ENCLAVECTL" --socket "$TEST_DIR/none.sock" version
grep -q "^enclavectl: UNAVAILABLE: .*none.sock" "$TEST_DIR/err" || fail "UNAVAILABLE message"

# Commands owned by other components either run or say they are not built yet.
for cmd in build-enclave describe-eif pcr verify-attestation; do
	rc=0
	"$ENCLAVECTL" "$cmd" --help >"$TEST_DIR/out" 2>"$TEST_DIR/err" || rc=$?
	if grep -q "not built yet" "$TEST_DIR/err"; then
		assert_eq "$rc" 4 "$cmd fallback"
	fi
done

# With a daemon: every request reaches its method via flags or JSON (the daemon's answer names
# the request's field or the missing enclave).
start_daemon
echo '{"eif_path": "x.eif", "memory_mib": 64, "cpu_ids": [1], "debug_mode": true}' >"$TEST_DIR/run.json"
# A relative eif_path is resolved by the client, so a missing file is a local error (5).
expect_rc 5 "$ENCLAVECTL" run-enclave --config "$TEST_DIR/run.json"
grep -q "x.eif: No such file" "$TEST_DIR/err" || fail "run-enclave --config"
echo '{"eif_path": "/nonexistent/x.eif", "memory_mib": 64, "cpu_ids": [1], "debug_mode": true}' >"$TEST_DIR/run.json"
expect_rc 15 "$ENCLAVECTL" run-enclave --config "$TEST_DIR/run.json"
grep -q "x.eif" "$TEST_DIR/err" || fail "run-enclave --config (daemon side)"
expect_rc 0 "$ENCLAVECTL" terminate-enclave --all
expect_rc 15 "$ENCLAVECTL" resize-enclave --enclave-name a --memory 128
expect_rc 15 "$ENCLAVECTL" attest --enclave-name a --nonce 00ff --user-data hi
expect_rc 15 "$ENCLAVECTL" console --enclave-name a
grep -q "no enclave named 'a'" "$TEST_DIR/err" || fail "console (stream)"
expect_rc 15 "$ENCLAVECTL" connect --enclave-name a --port 5000
grep -q "no enclave named 'a'" "$TEST_DIR/err" || fail "connect"
expect_rc 0 "$ENCLAVECTL" pool
expect_rc 0 "$ENCLAVECTL" pki root
echo "PASS"
