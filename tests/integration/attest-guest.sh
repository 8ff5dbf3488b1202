#!/bin/bash
# Attestation end to end with the sample enclave under the daemon: a document from the guest
# (port 5001, fresh nonce) verifies against `enclavectl pki root` with PCR0-2 equal to
# describe-eif's; one flipped byte, another root, an expired leaf and a wrong nonce are each
# rejected; NSM passthrough (port 5002): ExtendPCR 16 changes DescribePCR, LockPCR then makes
# ExtendPCR fail with ReadOnlyIndex, PCR 0 is read-only, GetRandom is fresh; `enclavectl
# attest` from the host verifies; a debug-mode enclave attests PCR0-2 as zeros.
. "$top_srcdir/tests/integration/lib.sh"
need_kvm
need_root
command -v python3 >/dev/null || skip "python3 is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
HELPER=$top_srcdir/tests/integration/attest-helper.py
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
start_daemon

"$ENCLAVECTL" pki root --output "$TEST_DIR/root.pem" >/dev/null
m=$("$ENCLAVECTL" describe-eif --eif-path "$SAMPLE_EIF")
PCR0=$(echo "$m" | json 'd["Measurements"]["PCR0"]')
PCR1=$(echo "$m" | json 'd["Measurements"]["PCR1"]')
PCR2=$(echo "$m" | json 'd["Measurements"]["PCR2"]')
ZEROS=$(printf '0%.0s' $(seq 96))

run() { # run NAME [--debug-mode]: prints "ID VSOCK"
	local out id
	out=$("$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 32 --cpu-count 1 \
		--enclave-name "$@") || fail "run-enclave $1: $out"
	id=$(echo "$out" | json 'd["EnclaveID"]')
	echo "$id $("$ENCLAVECTL" describe-enclaves |
		json "[e for e in d if e['EnclaveID'] == '$id'][0]['VsockSocket']")"
}
verify() { # verify DOC [args...]: exit status of verify-attestation
	"$ENCLAVECTL" verify-attestation --doc "$1" "${@:2}" >"$TEST_DIR/verify.out" 2>&1
}
expect_reject() { # expect_reject WHAT REASON DOC [args...]
	local what=$1 reason=$2 rc=0
	shift 2
	verify "$@" || rc=$?
	[ $rc = 2 ] || fail "$what: verify-attestation exited $rc: $(cat "$TEST_DIR/verify.out")"
	grep -q "$reason" "$TEST_DIR/verify.out" ||
		fail "$what: not rejected as $reason: $(cat "$TEST_DIR/verify.out")"
	echo "rejected: $what ($reason)"
}

read -r ID VSOCK < <(run att)
[ -S "$VSOCK" ] || fail "no vsock socket for $ID"

NONCE=$(openssl rand -hex 32)
python3 "$HELPER" port-attest "$VSOCK" "$NONCE" "$TEST_DIR/doc.cbor"
verify "$TEST_DIR/doc.cbor" --root "$TEST_DIR/root.pem" --pcr "0=$PCR0" --pcr "1=$PCR1" \
	--pcr "2=$PCR2" --nonce "$NONCE" || fail "guest document: $(cat "$TEST_DIR/verify.out")"
grep -q "$ID" "$TEST_DIR/verify.out" || fail "module_id is not the enclave id: $(cat "$TEST_DIR/verify.out")"
echo "guest document verifies with PCR0-2 of describe-eif"

# Tampering, another root, an expired leaf, a wrong nonce.
python3 - "$TEST_DIR/doc.cbor" "$TEST_DIR/flipped.cbor" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-10] ^= 0x01  # inside the signature
open(sys.argv[2], "wb").write(d)
PY
expect_reject "one flipped byte" bad-signature "$TEST_DIR/flipped.cbor" --root "$TEST_DIR/root.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days 1 -subj "/CN=other" \
	-keyout "$TEST_DIR/other.key" -out "$TEST_DIR/other.pem" 2>/dev/null
expect_reject "another root" untrusted-chain "$TEST_DIR/doc.cbor" --root "$TEST_DIR/other.pem"
expect_reject "expired leaf" certificate-expired "$TEST_DIR/doc.cbor" --root "$TEST_DIR/root.pem" \
	--time $(($(date +%s) + 400 * 24 * 3600))
expect_reject "wrong nonce" nonce-mismatch "$TEST_DIR/doc.cbor" --root "$TEST_DIR/root.pem" \
	--nonce "$(openssl rand -hex 32)"
expect_reject "wrong PCR0" pcr-mismatch "$TEST_DIR/doc.cbor" --root "$TEST_DIR/root.pem" \
	--pcr "0=$ZEROS"

python3 "$HELPER" nsm-checks "$VSOCK"

# The host's view: Enclaves.Attest over the same, now extended and locked, PCRs.
NONCE2=$(openssl rand -hex 16)
"$ENCLAVECTL" attest --enclave-id "$ID" --nonce "$NONCE2" --output "$TEST_DIR/host.cbor" \
	>/dev/null || fail "enclavectl attest failed"
verify "$TEST_DIR/host.cbor" --root "$TEST_DIR/root.pem" --pcr "0=$PCR0" --nonce "$NONCE2" ||
	fail "host document: $(cat "$TEST_DIR/verify.out")"
python3 - "$TEST_DIR/verify.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
pcrs = d.get("PCRs") or d.get("pcrs") or {}
v = pcrs.get("16") or pcrs.get("PCR16")
assert v and set(v.lower()) != {"0"}, f"locked PCR16 not in the host document: {pcrs}"
PY
echo "enclavectl attest verifies (PCR16 extended and locked by the guest is in it)"

"$ENCLAVECTL" terminate-enclave --enclave-id "$ID" >/dev/null || fail "terminate $ID"
rc=0
"$ENCLAVECTL" attest --enclave-id "$ID" >/dev/null 2>"$TEST_DIR/err" || rc=$?
[ $rc != 0 ] || fail "attest of a terminated enclave succeeded"
grep -q "not running" "$TEST_DIR/err" || fail "attest of a terminated enclave: $(cat "$TEST_DIR/err")"

# Debug mode: PCR0-2 are zeros in documents, as Nitro does.
read -r DID DVSOCK < <(run attdbg --debug-mode)
note=$("$ENCLAVECTL" describe-enclaves |
	json "[e for e in d if e['EnclaveID'] == '$DID'][0].get('AttestationPCRs')")
assert_eq "$note" "zeros (debug mode)" "describe-enclaves of a debug-mode enclave"
NONCE=$(openssl rand -hex 32)
python3 "$HELPER" port-attest "$DVSOCK" "$NONCE" "$TEST_DIR/dbg.cbor"
verify "$TEST_DIR/dbg.cbor" --root "$TEST_DIR/root.pem" --pcr "0=$ZEROS" --pcr "1=$ZEROS" \
	--pcr "2=$ZEROS" --nonce "$NONCE" || fail "debug document: $(cat "$TEST_DIR/verify.out")"
expect_reject "debug document against the image's PCR0" pcr-mismatch "$TEST_DIR/dbg.cbor" \
	--root "$TEST_DIR/root.pem" --pcr "0=$PCR0"
"$ENCLAVECTL" terminate-enclave --enclave-id "$DID" >/dev/null || fail "terminate $DID"
echo "PASS: attestation through the guest"
