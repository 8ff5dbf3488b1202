#!/bin/bash
# The daemon's attestation PKI and Images service, no guest needed: `enclavectl pki root` is
# created once under the state directory (keys 0600) and survives a restart; its fingerprint
# is the SHA-384 of the DER; operator-provided CA files are used as given and config mistakes
# name file:line; Images.Describe/Measure agree with `enclavectl describe-eif` and open the
# file with the caller's rights; Enclaves.Attest for an unknown enclave is NOT_FOUND.
. "$top_srcdir/tests/integration/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"
HELPER=$top_srcdir/tests/integration/attest-helper.py
json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
[ -f "$SAMPLE_EIF" ] || fail "$SAMPLE_EIF is not built"

start_daemon
out=$("$ENCLAVECTL" pki root)
echo "$out" | json_get Certificate >"$TEST_DIR/root.pem"
openssl x509 -in "$TEST_DIR/root.pem" -noout -subject >/dev/null || fail "root is not a PEM certificate"
fp=$(openssl x509 -in "$TEST_DIR/root.pem" -outform DER | sha384sum | cut -d' ' -f1)
assert_eq "$(echo "$out" | json_get FingerprintSHA384)" "$fp" "root fingerprint"
for k in root-ca.key intermediate-ca.key; do
	assert_eq "$(stat -c %a "$TEST_DIR/state/pki/$k")" 600 "mode of $k"
done
"$ENCLAVECTL" pki root --output "$TEST_DIR/root2.pem" >/dev/null
der_fp() { openssl x509 -in "$1" -outform DER | sha384sum | cut -d' ' -f1; }
assert_eq "$(der_fp "$TEST_DIR/root2.pem")" "$fp" "pki root --output"

# Images.Describe / Measure against the local describe-eif.
"$ENCLAVECTL" describe-eif --eif-path "$SAMPLE_EIF" >"$TEST_DIR/local.json"
python3 "$HELPER" rpc-image "$ENCLAVED_SOCKET" Describe "$SAMPLE_EIF" >"$TEST_DIR/rpc.json"
python3 "$HELPER" rpc-image "$ENCLAVED_SOCKET" Measure "$SAMPLE_EIF" >"$TEST_DIR/measure.json"
python3 - "$TEST_DIR/local.json" "$TEST_DIR/rpc.json" "$TEST_DIR/measure.json" <<'PY'
import json, sys
local, rpc, meas = (json.load(open(p)) for p in sys.argv[1:])
assert rpc["code"] == 0, rpc
assert meas["code"] == 0, meas
for k in ("PCR0", "PCR1", "PCR2"):
    assert rpc["Measurements"][k] == local["Measurements"][k].lower(), (k, rpc, local)
    assert meas["Measurements"][k] == local["Measurements"][k].lower(), (k, meas, local)
assert rpc["EifVersion"] == local["EifVersion"], (rpc, local)
assert rpc["IsSigned"] == local["IsSigned"] and rpc["CheckCRC"] == local["CheckCRC"]
assert rpc["ImageName"] == local.get("ImageName", ""), (rpc, local)
assert rpc["KernelFormat"] in ("bzImage", "elf64"), rpc
print("Images.Describe/Measure agree with describe-eif")
PY

rpc_code() { python3 "$HELPER" rpc-image "$ENCLAVED_SOCKET" "$@" | json_get code; }
assert_eq "$(rpc_code Describe "$TEST_DIR/absent.eif")" 5 "Describe of a missing file: NOT_FOUND"
head -c 4096 /dev/urandom >"$TEST_DIR/junk.eif"
assert_eq "$(rpc_code Measure "$TEST_DIR/junk.eif")" 3 "Measure of a non-EIF: INVALID_ARGUMENT"
assert_eq "$(rpc_code Describe relative.eif)" 3 "relative path: INVALID_ARGUMENT"
head -c 2000 "$SAMPLE_EIF" >"$TEST_DIR/trunc.eif"
assert_eq "$(rpc_code Describe "$TEST_DIR/trunc.eif")" 3 "truncated EIF: INVALID_ARGUMENT"
mkfifo "$TEST_DIR/fifo.eif"
assert_eq "$(rpc_code Describe "$TEST_DIR/fifo.eif")" 3 "a FIFO: INVALID_ARGUMENT, no hang"

# The caller's rights decide: a member who cannot read the file learns nothing through us.
SYS_PY=/usr/bin/python3
if [ "$(id -u)" = 0 ] && [ -x "$SYS_PY" ] && command -v setpriv >/dev/null &&
	getent passwd 65534 >/dev/null; then
	GROUP=enca$$
	groupadd "$GROUP"
	trap 'rc=$?; groupdel "$GROUP" 2>/dev/null || true; set +e; (exit $rc); cleanup' EXIT
	GID=$(getent group "$GROUP" | cut -d: -f3)
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	printf '[daemon]\ngroup = %s\n' "$GROUP" >>"$TEST_DIR/enclaved.conf"
	chmod 755 "$TEST_DIR"
	start_daemon
	cp "$SAMPLE_EIF" "$TEST_DIR/secret.eif"
	chmod 600 "$TEST_DIR/secret.eif"
	cp "$SAMPLE_EIF" "$TEST_DIR/public.eif"
	chmod 644 "$TEST_DIR/public.eif"
	as() { setpriv --reuid=65534 --regid="$GID" --clear-groups "$@"; }
	assert_eq "$(as "$SYS_PY" "$HELPER" rpc-image "$ENCLAVED_SOCKET" Measure "$TEST_DIR/secret.eif" |
		json_get code)" 7 "member reading a 0600 root file: PERMISSION_DENIED"
	assert_eq "$(as "$SYS_PY" "$HELPER" rpc-image "$ENCLAVED_SOCKET" Measure "$TEST_DIR/public.eif" |
		json_get code)" 0 "member reading a 0644 file"
	assert_eq "$(rpc_code Measure "$TEST_DIR/secret.eif")" 0 "root reading a 0600 file"
	echo "Images: opened with the caller's rights"
fi

# Enclaves.Attest for an enclave that does not exist.
out=$(python3 "$HELPER" rpc-attest "$ENCLAVED_SOCKET" i-0000000000000000-enc0000000000000bad)
code=$(echo "$out" | json_get code)
[ "$code" = 5 ] || [ "$code" = 12 ] || fail "Attest of an unknown enclave: $out"

# A restart reloads the same root.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
start_daemon
"$ENCLAVECTL" pki root | json_get Certificate >"$TEST_DIR/root3.pem"
assert_eq "$(der_fp "$TEST_DIR/root3.pem")" "$fp" "root after a restart"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true

# Operator-provided CA: the files are used as given, nothing is created in the state dir.
mkdir "$TEST_DIR/op"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days 30 \
	-subj "/CN=operator root" -keyout "$TEST_DIR/op/root.key" -out "$TEST_DIR/op/root.pem" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -subj "/CN=operator inter" \
	-keyout "$TEST_DIR/op/inter.key" -out "$TEST_DIR/op/inter.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' \
	>"$TEST_DIR/op/ext"
openssl x509 -req -in "$TEST_DIR/op/inter.csr" -CA "$TEST_DIR/op/root.pem" \
	-CAkey "$TEST_DIR/op/root.key" -CAcreateserial -days 30 -extfile "$TEST_DIR/op/ext" \
	-out "$TEST_DIR/op/inter.pem" 2>/dev/null
cp "$TEST_DIR/enclaved.conf" "$TEST_DIR/base.conf"
cat >>"$TEST_DIR/enclaved.conf" <<CONF
[attestation]
root_certificate = $TEST_DIR/op/root.pem
intermediate_certificate = $TEST_DIR/op/inter.pem
intermediate_key = $TEST_DIR/op/inter.key
CONF
rm -rf "$TEST_DIR/state"
start_daemon
"$ENCLAVECTL" pki root | json_get Certificate >"$TEST_DIR/root4.pem"
assert_eq "$(openssl x509 -in "$TEST_DIR/root4.pem" -noout -fingerprint -sha256)" \
	"$(openssl x509 -in "$TEST_DIR/op/root.pem" -noout -fingerprint -sha256)" "operator root"
[ ! -e "$TEST_DIR/state/pki" ] || fail "a PKI was created despite the operator's CA"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true

# Mistakes stop the daemon at start with a reason.
cp "$TEST_DIR/base.conf" "$TEST_DIR/bad.conf"
printf '[attestation]\nroot_cert = /x.pem\n' >>"$TEST_DIR/bad.conf"
rc=0
"$ENCLAVED" --config "$TEST_DIR/bad.conf" --socket "$TEST_DIR/bad.sock" --state-dir "$TEST_DIR/s" \
	--runtime-dir "$TEST_DIR/r" --foreground 2>"$TEST_DIR/bad.err" || rc=$?
assert_eq "$rc" 1 "exit code with an unknown [attestation] key"
grep -q "bad.conf:[0-9]*: \[attestation\] root_cert: unknown key" "$TEST_DIR/bad.err" ||
	fail "unknown key not named: $(cat "$TEST_DIR/bad.err")"
cp "$TEST_DIR/base.conf" "$TEST_DIR/bad.conf"
printf '[attestation]\nroot_certificate = %s\n' "$TEST_DIR/op/root.pem" >>"$TEST_DIR/bad.conf"
rc=0
"$ENCLAVED" --config "$TEST_DIR/bad.conf" --socket "$TEST_DIR/bad.sock" --state-dir "$TEST_DIR/s" \
	--runtime-dir "$TEST_DIR/r" --foreground 2>"$TEST_DIR/bad.err" || rc=$?
[ "$rc" != 0 ] || fail "a root certificate without its intermediate was accepted"
grep -q "intermediate_certificate is missing" "$TEST_DIR/bad.err" ||
	fail "incomplete CA not named: $(cat "$TEST_DIR/bad.err")"
echo "PASS: attestation PKI and Images service"
