#!/bin/bash
# Authorization with real accounts: a non-member is refused every method of every service
# (PERMISSION_DENIED from the daemon itself, with the socket's file mode out of the way); of
# two members of the daemon's group, one cannot see, describe, console, attest, resize or
# terminate the other's enclave (NOT_FOUND, as if it did not exist), nor connect to its
# vsock.sock; the owner can.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/users.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
# The unprivileged users need an interpreter they can run (not one under /root).
need_sys_python
UPY=$SYS_PY
need_commands setpriv groupadd useradd userdel

USER_A=encaa$$ USER_B=encab$$ USER_N=encan$$
temp_group enca$$
temp_user "$USER_A" -G "$GROUP"
temp_user "$USER_B" -G "$GROUP"
temp_user "$USER_N"
group_conf 32
chmod 755 "$TEST_DIR"
start_daemon
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups "$@"; }
cp "$SAMPLE_EIF" "$TEST_DIR/a.eif"; chmod 644 "$TEST_DIR/a.eif"

# calls AS_USER EXPECTED_CODE 'service method payload-python-expr' ...: each call's code
calls() {
	local user=$1 code=$2; shift 2
	as "$user" "$UPY" - "$ENCLAVED_SOCKET" "$code" "$@" <<'PY'
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location(
    "sc", os.path.join(os.environ["top_srcdir"], "tests/integration/stress-client.py"))
sc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sc)
pb = sc.pb
sock, want, bad = sys.argv[1], int(sys.argv[2]), 0
for spec_ in sys.argv[3:]:
    service, method, payload = spec_.split(" ", 2)
    c = sc.Conn(sock)
    code, msg, _ = c.call(service, method, eval(payload))
    c.close()
    ok = code == want
    bad += not ok
    print(f"{'ok' if ok else 'WRONG'}: {service}/{method}: {code} {msg[:160]}")
sys.exit(1 if bad else 0)
PY
}

out=$(as "$USER_A" "$ENCLAVECTL" run-enclave --eif-path "$TEST_DIR/a.eif" --memory 16 \
	--cpu-count 1 --debug-mode --enclave-name a-enclave) || fail "member A run: $out"
id=$(echo "$out" | json 'd["EnclaveID"]')
sock=$(as "$USER_A" "$ENCLAVECTL" describe-enclaves | json 'd[0]["VsockSocket"]')
E="pb(1, '$id')"

# Every method, refused to the non-member (socket mode widened so the daemon decides).
chmod 666 "$ENCLAVED_SOCKET"
calls "$USER_N" 7 \
	"Enclaves Run pb(1, '$TEST_DIR/a.eif') + pb(2, 16) + pb(3, 1)" \
	"Enclaves Describe $E" "Enclaves List b''" "Enclaves Terminate $E" \
	"Enclaves Resize $E + pb(3, 32)" "Enclaves Attest $E" "Enclaves Console $E" \
	"Enclaves Events b''" "Pool Get b''" "Pool Resize pb(1, 1)" \
	"Images Describe pb(1, '$TEST_DIR/a.eif')" "Images Measure pb(1, '$TEST_DIR/a.eif')" \
	"System Version b''" "System Health b''" "System GetRootCertificate b''" \
	>"$TEST_DIR/n" || fail "non-member: $(cat "$TEST_DIR/n")"
cat "$TEST_DIR/n"
chmod 660 "$ENCLAVED_SOCKET"

# Member B: A's enclave does not exist for B.
calls "$USER_B" 5 "Enclaves Describe $E" "Enclaves Describe pb(2, 'a-enclave')" \
	"Enclaves Terminate $E" "Enclaves Terminate pb(2, 'a-enclave')" \
	"Enclaves Resize $E + pb(3, 32)" "Enclaves Attest $E + pb(3, b'n')" \
	"Enclaves Console $E" >"$TEST_DIR/b" || fail "member B: $(cat "$TEST_DIR/b")"
cat "$TEST_DIR/b"
assert_eq "$(as "$USER_B" "$ENCLAVECTL" describe-enclaves | json 'len(d)')" 0 "B's list"
rc=0; as "$USER_B" "$ENCLAVECTL" terminate-enclave --all >"$TEST_DIR/ball" 2>&1 || rc=$?
assert_eq "$(as "$USER_A" "$ENCLAVECTL" describe-enclaves | json 'd[0]["State"]')" RUNNING "A's enclave after B's terminate --all"
rc=0; as "$USER_B" timeout 20 "$ENCLAVECTL" connect --enclave-id "$id" --port 5000 </dev/null \
	>/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "B connected through enclavectl"
vsock_try() { try_connect "$sock" as "$1"; } # USER: what connect(2) on A's vsock.sock gave
assert_eq "$(vsock_try "$USER_B")" PermissionError "B connecting to A's vsock.sock"
assert_eq "$(vsock_try "$USER_A")" connected "A connecting to its own vsock.sock"

# The owner can do all of it.
echo hi | as "$USER_A" timeout 20 "$ENCLAVECTL" connect --enclave-id "$id" --port 5000 >"$TEST_DIR/echo" ||
	fail "owner connect"
assert_eq "$(cat "$TEST_DIR/echo")" hi "owner echo"
calls "$USER_A" 0 "Enclaves Describe $E" "Enclaves Attest $E + pb(3, b'n')" >"$TEST_DIR/a" ||
	fail "owner: $(cat "$TEST_DIR/a")"
as "$USER_A" "$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null || fail "owner terminate"
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"]')" 0 "pool whole"
echo PASS
