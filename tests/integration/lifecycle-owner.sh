#!/bin/bash
# Ownership: a group member runs an enclave and owns it (OwnerUID, its vsock.sock); another
# uid in the group neither sees nor terminates it; root sees and manages everything; a member
# cannot start an image it could not read itself; an image its owner can still write is measured
# and loaded from a sealed copy.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/users.sh"
need_kvm
need_root
[ -f "$SAMPLE_EIF" ] || skip "no $SAMPLE_EIF"
need_commands setpriv groupadd
need_sys_python
getent passwd 65534 >/dev/null || skip "no user with uid 65534"

temp_group enco$$
group_conf 32
chmod 755 "$TEST_DIR"
start_daemon
as() { local uid=$1; shift; setpriv --reuid="$uid" --regid="$GID" --clear-groups "$@"; }

cp "$SAMPLE_EIF" "$TEST_DIR/mine.eif"; chmod 644 "$TEST_DIR/mine.eif"
cp "$SAMPLE_EIF" "$TEST_DIR/secret.eif"; chmod 600 "$TEST_DIR/secret.eif"

rc=0
as 65534 "$ENCLAVECTL" run-enclave --eif-path "$TEST_DIR/secret.eif" --memory 32 --cpu-count 1 \
	>/dev/null 2>"$TEST_DIR/err" || rc=$?
assert_eq "$rc" 17 "member starting an image it cannot read (PERMISSION_DENIED)"

out=$(as 65534 "$ENCLAVECTL" run-enclave --eif-path "$TEST_DIR/mine.eif" --memory 32 --cpu-count 1) ||
	fail "member run-enclave: $out"
id=$(echo "$out" | json 'd["EnclaveID"]')
desc=$(as 65534 "$ENCLAVECTL" describe-enclaves)
assert_eq "$(echo "$desc" | json 'd[0]["OwnerUID"]')" 65534 "owner uid"
sock=$(echo "$desc" | json 'd[0]["VsockSocket"]')
assert_eq "$(stat -c '%u %a' "$sock")" "65534 600" "vsock.sock owner and mode"
# The owner reaches port 5000; another uid in the group sees nothing and cannot connect.
echo hi | as 65534 timeout 20 "$ENCLAVECTL" connect --enclave-id "$id" --port 5000 >"$TEST_DIR/echo" ||
	fail "owner connect"
assert_eq "$(cat "$TEST_DIR/echo")" hi "owner echo"
assert_eq "$(as 65533 "$ENCLAVECTL" describe-enclaves | json 'len(d)')" 0 "another uid's list"
rc=0; as 65533 "$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 15 "another uid terminating (NOT_FOUND)"
# Both through the system python: an interpreter the uid cannot run would fail either way.
assert_eq "$(try_connect "$sock" as 65533)" PermissionError "another uid connecting to vsock.sock"
assert_eq "$(try_connect "$sock" as 65534)" connected "the owner connecting to its vsock.sock"
assert_eq "$("$ENCLAVECTL" describe-enclaves | json 'len(d)')" 1 "root's list"
as 65534 "$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null || fail "owner terminate"
assert_eq "$("$ENCLAVECTL" pool | json 'd["UsedMemoryMiB"]')" 0 "pool whole"
! grep -q "can be changed by others than root" "$TEST_DIR/enclaved.log" ||
	fail "a root-owned 0644 image was copied"

# An image its owner can still write is measured and loaded from a sealed copy, so that it
# cannot be changed between the two; the PCRs are the file's.
chown 65534 "$TEST_DIR/mine.eif"
out=$(as 65534 "$ENCLAVECTL" run-enclave --eif-path "$TEST_DIR/mine.eif" --memory 32 --cpu-count 1) ||
	fail "member run-enclave of its own image: $out"
id=$(echo "$out" | json 'd["EnclaveID"]')
grep -q "$id: $TEST_DIR/mine.eif can be changed by others than root (owner uid 65534, mode 0644): measured and loaded from a sealed copy" \
	"$TEST_DIR/enclaved.log" || fail "no sealed copy of a member-owned image"
want=$("$ENCLAVECTL" describe-eif --eif-path "$TEST_DIR/mine.eif" | json 'd["Measurements"]["PCR0"]')
assert_eq "$(as 65534 "$ENCLAVECTL" describe-enclaves | json 'd[0]["Measurements"]["PCR0"]')" "$want" \
	"PCR0 measured on the copy"
echo hi | as 65534 timeout 20 "$ENCLAVECTL" connect --enclave-id "$id" --port 5000 >"$TEST_DIR/echo" ||
	fail "echo from an enclave loaded from a sealed copy"
assert_eq "$(cat "$TEST_DIR/echo")" hi "echo from the copy"
as 65534 "$ENCLAVECTL" terminate-enclave --enclave-id "$id" >/dev/null || fail "owner terminate"
echo PASS
