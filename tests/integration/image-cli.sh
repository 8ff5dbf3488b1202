#!/bin/bash
# enclavectl build-enclave / describe-eif / pcr end to end: from parts, from a rootfs directory,
# from a docker-save style OCI tar (made here with tar, including whiteouts), signed with an
# openssl-made certificate, and the errors for damaged images.
. "$top_srcdir/tests/integration/lib.sh"
command -v python3 >/dev/null || skip "python3 is needed to read the JSON"
command -v openssl >/dev/null || skip "openssl is needed to make a signing certificate"
cd "$TEST_DIR"

# json FILE EXPR: evaluate a python expression over the parsed JSON as j
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# expect_rc CODE CMD...: run, expect that exit code
expect_rc() {
	local want=$1 rc=0; shift
	"$@" >out.json 2>err.txt || rc=$?
	[ "$rc" = "$want" ] || { cat err.txt; fail "$* exited $rc, expected $want"; }
}

head -c 300000 /dev/urandom >kernel
printf 'bootstrap' >rd1
printf 'app' >rd2
export SOURCE_DATE_EPOCH=1700000000

# --- from parts
expect_rc 0 "$ENCLAVECTL" build-enclave --kernel kernel --cmdline "console=ttyS0 quiet" \
	--ramdisk rd1 --ramdisk rd2 --output-file parts.eif --name demo --version 2.1
cp out.json build.json
expect_rc 0 "$ENCLAVECTL" describe-eif --eif-path parts.eif
cp out.json describe.json
assert_eq "$(json describe.json 'j["EifVersion"]')" 4 "EifVersion"
assert_eq "$(json describe.json 'j["CheckCRC"]')" True "CheckCRC"
assert_eq "$(json describe.json 'j["IsSigned"]')" False "IsSigned"
assert_eq "$(json describe.json 'j["ImageName"]')" demo "ImageName"
assert_eq "$(json describe.json 'j["ImageVersion"]')" 2.1 "ImageVersion"
assert_eq "$(json describe.json 'j["Metadata"]["BuildTime"]')" "2023-11-14T22:13:20+00:00" "BuildTime"
assert_eq "$(json describe.json 'j["Measurements"]["HashAlgorithm"]')" "Sha384 { ... }" "HashAlgorithm"
for p in PCR0 PCR1 PCR2; do
	assert_eq "$(json describe.json "j['Measurements']['$p']")" \
		"$(json build.json "j['Measurements']['$p']")" "$p build vs describe"
done
# PCR0 by hand: SHA384(0^48 || SHA384(kernel || cmdline || rd1 || rd2))
want=$( (cat kernel; printf 'console=ttyS0 quiet'; cat rd1 rd2) | python3 -c '
import hashlib,sys; d=hashlib.sha384(sys.stdin.buffer.read()).digest()
print(hashlib.sha384(bytes(48)+d).hexdigest())')
assert_eq "$(json describe.json 'j["Measurements"]["PCR0"]')" "$want" "PCR0 computed independently"
want=$(python3 -c 'import hashlib; print(hashlib.sha384(bytes(48)+hashlib.sha384(b"app").digest()).hexdigest())')
assert_eq "$(json describe.json 'j["Measurements"]["PCR2"]')" "$want" "PCR2 computed independently"

# reproducible: same inputs, same bytes
expect_rc 0 "$ENCLAVECTL" build-enclave --kernel kernel --cmdline "console=ttyS0 quiet" \
	--ramdisk rd1 --ramdisk rd2 --output-file parts2.eif --name demo --version 2.1
cmp parts.eif parts2.eif || fail "two builds of the same inputs differ"

# pcr --input is the extend over the raw file
expect_rc 0 "$ENCLAVECTL" pcr --input rd2
assert_eq "$(json out.json 'j["PCR0"]')" "$want" "pcr --input"

# --- from a rootfs directory
mkdir -p root/bin root/etc
printf 'hello\n' >root/etc/greeting
ln -s ../etc/greeting root/bin/link
expect_rc 0 "$ENCLAVECTL" build-enclave --kernel kernel --ramdisk rd1 --rootfs root \
	--cmd /bin/app --cmd --flag --env MODE=test --output-file rootfs.eif
expect_rc 0 "$ENCLAVECTL" describe-eif --eif-path rootfs.eif
grep -aq 'rootfs/etc/greeting' rootfs.eif || fail "rootfs file missing from the ramdisk"
grep -aq 'rootfs/bin/link' rootfs.eif || fail "symlink missing from the ramdisk"
grep -aq $'/bin/app\n--flag\n' rootfs.eif || fail "/cmd content missing"
grep -aq $'MODE=test\n' rootfs.eif || fail "/env content missing"

# --- from a docker-save archive, two layers, the second with whiteouts
mkdir -p l1/app l1/etc/conf.d l2/app l2/etc/conf.d oci
printf 'one' >l1/app/keep
printf 'gone' >l1/app/removed
printf 'old' >l1/etc/conf.d/old.conf
printf 'two' >l2/app/new
: >l2/app/.wh.removed
: >l2/etc/conf.d/.wh..wh..opq
printf 'new' >l2/etc/conf.d/new.conf
mkdir -p oci/aaa oci/bbb
tar -C l1 -cf oci/aaa/layer.tar app etc
tar -C l2 -cf oci/bbb/layer.tar app etc
gzip -k oci/bbb/layer.tar && mv oci/bbb/layer.tar.gz oci/bbb/layer.tar
cat >oci/config.json <<'CFG'
{"config":{"Entrypoint":["/app/run"],"Cmd":["--serve"],"Env":["PATH=/usr/bin"]}}
CFG
cat >oci/manifest.json <<'MAN'
[{"Config":"config.json","RepoTags":["test:latest"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}]
MAN
tar -C oci -cf image.tar manifest.json config.json aaa bbb
expect_rc 0 "$ENCLAVECTL" build-enclave --kernel kernel --ramdisk rd1 --oci-archive image.tar \
	--env EXTRA=1 --output-file oci.eif
expect_rc 0 "$ENCLAVECTL" describe-eif --eif-path oci.eif
assert_eq "$(json out.json 'j["Metadata"]["DockerInfo"]["config"]["Cmd"][0]')" "--serve" "DockerInfo"
grep -aq 'rootfs/app/keep' oci.eif || fail "layer 1 file missing"
grep -aq 'rootfs/app/new' oci.eif || fail "layer 2 file missing"
grep -aq 'rootfs/etc/conf.d/new.conf' oci.eif || fail "file beside an opaque whiteout missing"
! grep -aq 'rootfs/app/removed' oci.eif || fail "whiteout did not remove app/removed"
! grep -aq 'old.conf' oci.eif || fail "opaque whiteout did not clear etc/conf.d"
! grep -aq '\.wh\.' oci.eif || fail "whiteout marker copied into the ramdisk"
grep -aq $'/app/run\n--serve\n' oci.eif || fail "/cmd from Entrypoint+Cmd missing"
grep -aq $'PATH=/usr/bin\nEXTRA=1\n' oci.eif || fail "/env from config + --env missing"

# an archive path that escapes the root is refused
mkdir -p evil/x && printf 'x' >evil/x/f
tar -C evil -cf evil/layer.tar --transform 's|^x|../../x|' x 2>/dev/null
printf '[{"Config":"c.json","Layers":["layer.tar"]}]' >evil/manifest.json
printf '{}' >evil/c.json
tar -C evil -cf evil.tar manifest.json c.json layer.tar
expect_rc 6 "$ENCLAVECTL" build-enclave --kernel kernel --oci-archive evil.tar --output-file evil.eif
grep -q 'escapes the root' err.txt || fail "escaping entry: $(cat err.txt)"
[ ! -e evil.eif ] || fail "a failed build left its output"

# --- signed
openssl ecparam -genkey -name secp384r1 -noout -out key.pem 2>/dev/null
openssl req -new -x509 -key key.pem -out cert.pem -days 2 -subj /CN=image-cli 2>/dev/null
expect_rc 0 "$ENCLAVECTL" build-enclave --kernel kernel --cmdline c --ramdisk rd1 \
	--signing-certificate cert.pem --private-key key.pem --output-file signed.eif
cp out.json signed-build.json
expect_rc 0 "$ENCLAVECTL" describe-eif --eif-path signed.eif
assert_eq "$(json out.json 'j["IsSigned"]')" True "IsSigned"
assert_eq "$(json out.json 'j["SignatureCheck"]')" True "SignatureCheck"
assert_eq "$(json out.json 'j["SigningCertificate"]["IssuerName"]')" "CN=image-cli" "IssuerName"
pcr8=$(json out.json 'j["Measurements"]["PCR8"]')
assert_eq "$(json signed-build.json 'j["Measurements"]["PCR8"]')" "$pcr8" "PCR8 build vs describe"
expect_rc 0 "$ENCLAVECTL" pcr --signing-certificate cert.pem
assert_eq "$(json out.json 'j["PCR8"]')" "$pcr8" "pcr --signing-certificate"

# --- damaged images: clear errors, distinct exit codes
cp parts.eif crc.eif
printf 'X' | dd of=crc.eif bs=1 seek=600 conv=notrunc 2>/dev/null
expect_rc 6 "$ENCLAVECTL" describe-eif --eif-path crc.eif
grep -q 'CRC mismatch' err.txt || fail "CRC: $(cat err.txt)"
head -c 700 parts.eif >trunc.eif
expect_rc 6 "$ENCLAVECTL" describe-eif --eif-path trunc.eif
grep -q 'past end of file' err.txt || fail "truncated: $(cat err.txt)"
expect_rc 6 "$ENCLAVECTL" describe-eif --eif-path kernel
grep -q 'magic at offset 0' err.txt || fail "magic: $(cat err.txt)"
expect_rc 5 "$ENCLAVECTL" describe-eif --eif-path does-not-exist.eif
expect_rc 1 "$ENCLAVECTL" describe-eif
expect_rc 1 "$ENCLAVECTL" build-enclave --kernel kernel --output-file x.eif
expect_rc 1 "$ENCLAVECTL" pcr --input a --signing-certificate b
echo "image-cli: ok"
