#!/bin/bash
# An enclave outlives its leaf certificate: with [attestation] leaf_lifetime = 15s, a document
# asked for after two thirds of the leaf's validity carries a fresh leaf (new certificate,
# later expiry) that verifies against the same root, from the host (Enclaves.Attest) and from
# the guest (port 5001); the renewal is saved in <id>.attest, and a daemon killed and
# restarted goes on from it. Waits are computed from the certificates, so a slow daemon
# (valgrind) changes nothing.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
command -v python3 >/dev/null || skip "python3 is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
HELPER=$top_srcdir/tests/integration/attest-helper.py

{ pool_conf 32; printf '[attestation]\nleaf_lifetime = 15s\n'; } >"$TEST_DIR/enclaved.conf"
start_daemon
"$ENCLAVECTL" pki root --output "$TEST_DIR/root.pem" >/dev/null
id=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 \
	--enclave-name renew | json 'd["EnclaveID"]')
vsock=$TEST_DIR/run/enclaves/$id/vsock.sock

# attest N: a host document in doc-N.cbor that verifies; prints its leaf as hex DER.
attest() {
	"$ENCLAVECTL" attest --enclave-id "$id" --nonce "$(openssl rand -hex 16)" \
		--output "$TEST_DIR/doc-$1.cbor" >/dev/null || fail "attest $1"
	"$ENCLAVECTL" verify-attestation --doc "$TEST_DIR/doc-$1.cbor" --root "$TEST_DIR/root.pem" \
		>"$TEST_DIR/verify-$1.out" 2>&1 ||
		fail "document $1 does not verify: $(cat "$TEST_DIR/verify-$1.out")"
	python3 "$HELPER" doc-cert "$TEST_DIR/doc-$1.cbor"
}
# cert_time HEX start|end: the leaf's notBefore or notAfter in seconds since the epoch.
cert_time() {
	local field=-startdate
	[ "$2" = end ] && field=-enddate
	python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$1" |
		openssl x509 -inform DER -noout "$field" | cut -d= -f2 | xargs -I{} date -d {} +%s
}

first=$(attest 1)
[ -n "$first" ] || fail "no certificate in the first document"
start=$(cert_time "$first" start)
end=$(cert_time "$first" end)
assert_eq "$((end - start))" 15 "leaf validity"
# Sleep until two thirds of the first leaf have passed, plus a second of margin.
wait_s=$((start + 11 - $(date +%s)))
[ "$wait_s" -le 0 ] || sleep "$wait_s"
second=$(attest 2)
[ "$second" != "$first" ] || fail "leaf not renewed after two thirds of its validity"
[ "$(cert_time "$second" end)" -gt "$end" ] || fail "the renewed leaf does not expire later"
assert_eq "$(($(cert_time "$second" end) - $(cert_time "$second" start)))" 15 "renewed validity"
grep -q "$id: leaf certificate renewed, valid until" "$TEST_DIR/enclaved.log" ||
	fail "renewal not logged"
# Saved for a restarted daemon.
assert_eq "$(python3 "$HELPER" state-cert "$TEST_DIR/run/enclave-records/$id.attest")" "$second" \
	"leaf saved in $id.attest"
# The guest's documents carry the renewed leaf too (or a later one, should it renew again).
python3 "$HELPER" port-attest "$vsock" "$(openssl rand -hex 32)" "$TEST_DIR/doc-guest.cbor" ||
	fail "guest attestation after the renewal"
guest=$(python3 "$HELPER" doc-cert "$TEST_DIR/doc-guest.cbor")
[ "$guest" = "$second" ] || [ "$(cert_time "$guest" start)" -ge "$(cert_time "$second" start)" ] ||
	fail "the guest's document carries an older leaf"

# A restarted daemon loads the saved leaf: its first document carries it, or a renewal of it.
saved=$(python3 "$HELPER" state-cert "$TEST_DIR/run/enclave-records/$id.attest")
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" || true
start_daemon
after=$(attest 3)
[ "$after" = "$saved" ] ||
	[ "$(cert_time "$after" start)" -ge "$(($(cert_time "$saved" start) + 10))" ] ||
	fail "after the restart, a leaf that is neither the saved one nor its renewal"
"$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null
echo PASS
