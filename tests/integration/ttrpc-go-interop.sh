#!/bin/bash
# containerd's Go ttrpc against the C implementation, both ways: the Go client calls the C
# server, the C client calls the Go server. Builds offline from Debian's Go packages; skips
# when they are absent (apt-get install golang-go golang-github-containerd-ttrpc-dev).
. "$top_srcdir/tests/integration/lib.sh"

command -v go >/dev/null || skip "go not installed (Debian package golang-go)"
[ -d /usr/share/gocode/src/github.com/containerd/ttrpc ] ||
	skip "Go ttrpc not installed (Debian package golang-github-containerd-ttrpc-dev)"
INTEROP=$top_builddir/tests/integration/ttrpc-interop
[ -x "$INTEROP" ] || fail "$INTEROP not built"

# GOPATH mode over Debian's source tree: no module download, no network.
(cd "$top_srcdir/tests/integration/ttrpc-go" &&
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$TEST_DIR/gocache" GOFLAGS= \
		go build -o "$TEST_DIR/go-interop" .) || fail "building the Go interop program"

wait_socket() {
	for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
	fail "no socket at $1"
}

# Go client -> C server.
"$INTEROP" server "$TEST_DIR/c.sock" &
C_PID=$!
wait_socket "$TEST_DIR/c.sock"
"$TEST_DIR/go-interop" client "$TEST_DIR/c.sock" || { kill $C_PID; fail "Go client against the C server"; }
kill -TERM $C_PID
wait $C_PID || fail "C server exited with $?"

# C client -> Go server.
"$TEST_DIR/go-interop" server "$TEST_DIR/go.sock" &
GO_PID=$!
wait_socket "$TEST_DIR/go.sock"
"$INTEROP" client "$TEST_DIR/go.sock" || { kill $GO_PID; fail "C client against the Go server"; }
kill -TERM $GO_PID
wait $GO_PID 2>/dev/null || true
echo "PASS: Go ttrpc and the C implementation interoperate both ways"
