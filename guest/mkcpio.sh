#!/bin/sh
# Write a one-file newc cpio archive (deterministic: fixed inode, mode, mtime 0) to $1.
# The sample enclave ignores its ramdisk; the EIF format wants one.
set -eu
out=$1
name=sample-enclave.txt
body='sample enclave: this ramdisk is not used
'
hdr() { # name size mode ino
	printf '070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x' \
		"$4" "$3" 0 0 1 0 "$2" 0 0 0 0 $((${#1} + 1)) 0
	printf '%s\0' "$1"
	pad $((110 + ${#1} + 1))
}
pad() { n=$(((4 - $1 % 4) % 4)); [ "$n" = 0 ] || head -c "$n" /dev/zero; }
{
	hdr "$name" ${#body} $((0100644)) 1
	printf '%s' "$body"
	pad ${#body}
	hdr 'TRAILER!!!' 0 0 0
} >"$out.tmp"
mv "$out.tmp" "$out"
