#!/bin/bash
# Progress lines: build-enclave (64 MiB), describe-eif and pcr draw one on a terminal (a pty
# from script(1)) and clear it; without a terminal, or with --quiet / $ENCLAVECTL_QUIET, stderr
# stays empty and stdout is byte-identical. run-enclave shows the heartbeat wait the same way.
. "$top_srcdir/tests/integration/lib.sh"
command -v script >/dev/null || skip "script (util-linux) is needed for a pty"
command -v python3 >/dev/null || skip "python3 is needed to read the terminal log"
cd "$TEST_DIR"

head -c 1000000 /dev/urandom >kernel
head -c $((64 * 1024 * 1024)) /dev/urandom >ramdisk
export SOURCE_DATE_EPOCH=1700000000
build=(build-enclave --kernel kernel --ramdisk ramdisk --cmdline c --name p --version 1)

# on_tty LOG CMD...: run CMD with stdin/stderr on a pty (stdout redirected by the caller's
# arguments is not possible through script, so CMD's stdout goes to LOG.out); LOG gets the pty
on_tty() {
	local log=$1; shift
	script -qfec "$(printf '%q ' "$@") >$log.out" "$log" >/dev/null </dev/null ||
		fail "$* under a pty failed: $(cat "$log")"
}
has_progress() { grep -a -q "$2" "$1"; }

# --- build-enclave on a terminal: the progress line appears, then is erased
on_tty tty-build "$ENCLAVECTL" "${build[@]}" --output-file tty.eif
has_progress tty-build "building image .*MiB.*%.*MiB/s" ||
	fail "no progress line on the terminal: $(cat -v tty-build)"
# the last thing on the terminal is the line erase (\r ESC[K), not a stale progress line
# (script(1) may add "Script started/done" lines of its own)
python3 - tty-build <<'PY' || fail "progress line not cleared at the end: $(tail -c 200 tty-build | cat -v)"
import sys
data = open(sys.argv[1], "rb").read()
lines = [l for l in data.split(b"\n") if not l.startswith(b"Script ")]
sys.exit(0 if b"\n".join(lines).rstrip(b"\r\n").endswith(b"\r\x1b[K") else 1)
PY

# --- the same without a terminal, and quiet on a terminal: nothing on stderr
"$ENCLAVECTL" "${build[@]}" --output-file plain.eif >plain.json 2>plain.err || fail "build (no tty)"
[ ! -s plain.err ] || fail "stderr is not empty without a tty: $(cat -v plain.err)"
on_tty tty-quiet "$ENCLAVECTL" --quiet "${build[@]}" --output-file quiet.eif
! has_progress tty-quiet "building image" || fail "--quiet still drew: $(cat -v tty-quiet)"
ENCLAVECTL_QUIET=1 on_tty tty-envq "$ENCLAVECTL" "${build[@]}" --output-file envq.eif
! has_progress tty-envq "building image" || fail "ENCLAVECTL_QUIET still drew"
cmp plain.json tty-build.out || fail "stdout differs between a tty and a pipe"
cmp plain.json tty-quiet.out || fail "stdout differs with --quiet"
cmp plain.json tty-envq.out || fail "stdout differs with ENCLAVECTL_QUIET"
cmp plain.eif tty.eif || fail "the image differs when progress is drawn"

# --- describe-eif and pcr: measuring, same rules
on_tty tty-desc "$ENCLAVECTL" describe-eif --eif-path tty.eif
has_progress tty-desc "measuring image .*%" || fail "describe-eif: no progress: $(cat -v tty-desc)"
"$ENCLAVECTL" describe-eif --eif-path tty.eif >desc.json 2>desc.err || fail "describe-eif"
[ ! -s desc.err ] || fail "describe-eif: stderr without a tty: $(cat -v desc.err)"
cmp desc.json tty-desc.out || fail "describe-eif: stdout differs on a tty"
on_tty tty-pcr "$ENCLAVECTL" pcr --input ramdisk
has_progress tty-pcr "measuring .*MiB" || fail "pcr: no progress: $(cat -v tty-pcr)"
"$ENCLAVECTL" pcr --input ramdisk >pcr.json 2>pcr.err || fail "pcr"
[ ! -s pcr.err ] || fail "pcr: stderr without a tty"
cmp pcr.json tty-pcr.out || fail "pcr: stdout differs on a tty"

# --- an error while a wait is drawn starts on a clean line (the line is erased first)
script -qfec "$(printf '%q ' "$ENCLAVECTL" --socket "$TEST_DIR/absent.sock" run-enclave \
	--eif-path "$TEST_DIR/tty.eif" --memory 16 --cpu-count 1) >/dev/null" tty-err >/dev/null \
	</dev/null && fail "run-enclave without a daemon succeeded"
python3 - tty-err <<'PY' || fail "error line mixed with the progress line: $(cat -v tty-err)"
import re, sys
data = open(sys.argv[1], "rb").read()
# what is on screen: for each line, the text after the last carriage return
shown = [l.rstrip(b"\r").split(b"\r")[-1].replace(b"\x1b[K", b"") for l in data.split(b"\n")]
errs = [l for l in shown if b"enclavectl:" in l]
sys.exit(0 if errs and all(l.startswith(b"enclavectl: UNAVAILABLE") for l in errs) else 1)
PY

# --- run-enclave: the heartbeat wait
[ -c /dev/kvm ] && [ -w /dev/kvm ] && [ "$(id -u)" = 0 ] && [ -f "$SAMPLE_EIF" ] ||
	{ echo "run-enclave part skipped: needs root, /dev/kvm and the sample EIF"; exit 0; }
start_daemon
on_tty tty-run "$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 16 --cpu-count 1 \
	--enclave-name prog-tty
has_progress tty-run "waiting for the enclave's heartbeat\.\.\. [0-9]* s" ||
	fail "run-enclave: no heartbeat wait on the terminal: $(cat -v tty-run)"
grep -q '"EnclaveName": "prog-tty"' tty-run.out || fail "run-enclave stdout: $(cat tty-run.out)"
"$ENCLAVECTL" run-enclave --eif-path "$SAMPLE_EIF" --memory 16 --cpu-count 1 \
	--enclave-name prog-pipe >run.json 2>run.err || fail "run-enclave (no tty): $(cat run.err)"
! grep -a -q 'heartbeat\.\.\.' run.err || fail "run-enclave: progress without a tty: $(cat -v run.err)"
"$ENCLAVECTL" terminate-enclave --all >/dev/null || fail "terminate-enclave --all"

# --- pool resize: elapsed time while the daemon reserves the memory
on_tty tty-pool "$ENCLAVECTL" pool resize --memory 320
has_progress tty-pool "resizing the pool\.\.\. [0-9]* s" ||
	fail "pool resize: no progress on the terminal: $(cat -v tty-pool)"
"$ENCLAVECTL" pool resize --memory 256 >pool.json 2>pool.err || fail "pool resize (no tty)"
[ ! -s pool.err ] || fail "pool resize: stderr without a tty: $(cat -v pool.err)"
cmp <(grep -v Memory pool.json) <(grep -v Memory tty-pool.out) ||
	fail "pool resize: stdout differs beyond the memory size"
