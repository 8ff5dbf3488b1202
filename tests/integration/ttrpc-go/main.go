// Interop checks between containerd's Go ttrpc (Debian's golang-github-containerd-ttrpc-dev)
// and the C implementation in rpc/.
//   main client SOCKET   calls the C test server and checks every answer
//   main server SOCKET   serves ttrpc.interop.v1.Test for the C client
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const service = "ttrpc.interop.v1.Test"

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func expectStatus(err error, code codes.Code, msg string, what string) {
	st, ok := status.FromError(err)
	if !ok {
		fail("%s: expected status %v, got error %v", what, code, err)
	}
	if st.Code() != code || (msg != "" && st.Message() != msg) {
		fail("%s: expected %v %q, got %v %q", what, code, msg, st.Code(), st.Message())
	}
}

func runClient(path string) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		fail("dial: %v", err)
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()
	ctx := context.Background()

	for i := 0; i < 50; i++ {
		var resp ttrpc.KeyValue
		req := ttrpc.KeyValue{Key: "k", Value: fmt.Sprintf("v%d", i)}
		if err := client.Call(ctx, service, "Echo", &req, &resp); err != nil {
			fail("Echo: %v", err)
		}
		if resp.Key != req.Key || resp.Value != req.Value {
			fail("Echo: sent %v, got %v", req, resp)
		}
	}
	// Concurrent calls on one connection: Go multiplexes them on odd stream ids.
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func(i int) {
			var resp ttrpc.KeyValue
			req := ttrpc.KeyValue{Key: "c", Value: strings.Repeat("x", i*1000)}
			err := client.Call(ctx, service, "Echo", &req, &resp)
			if err == nil && resp.Value != req.Value {
				err = errors.New("wrong echo")
			}
			errs <- err
		}(i)
	}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			fail("concurrent Echo: %v", err)
		}
	}

	var resp ttrpc.KeyValue
	err = client.Call(ctx, service, "Fail", &ttrpc.KeyValue{Key: "x"}, &resp)
	expectStatus(err, codes.NotFound, "no such thing: x", "Fail")
	err = client.Call(ctx, service, "Nope", &ttrpc.KeyValue{}, &resp)
	expectStatus(err, codes.Unimplemented, "method Nope", "unknown method")
	err = client.Call(ctx, "no.such.Service", "Echo", &ttrpc.KeyValue{}, &resp)
	expectStatus(err, codes.Unimplemented, "service no.such.Service", "unknown service")

	mdctx := ttrpc.WithMetadata(ctx, ttrpc.MD{"x-trace": []string{"abc"}})
	if err := client.Call(mdctx, service, "Meta", &ttrpc.KeyValue{Key: "x-trace"}, &resp); err != nil {
		fail("Meta: %v", err)
	}
	if resp.Value != "abc" {
		fail("Meta: got %q", resp.Value)
	}

	// The server enforces timeout_nano; the Go client may give up at the same moment.
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = client.Call(tctx, service, "Slow", &ttrpc.KeyValue{}, &resp)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		expectStatus(err, codes.DeadlineExceeded, "context deadline exceeded", "Slow")
	}
	// Still usable afterwards.
	if err := client.Call(ctx, service, "Echo", &ttrpc.KeyValue{Key: "after"}, &resp); err != nil || resp.Key != "after" {
		fail("Echo after deadline: %v", err)
	}
	fmt.Println("go client: all checks passed")
}

func runServer(path string) {
	s, err := ttrpc.NewServer()
	if err != nil {
		fail("NewServer: %v", err)
	}
	s.Register(service, map[string]ttrpc.Method{
		"Echo": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req ttrpc.KeyValue
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			if md, ok := ttrpc.GetMetadataValue(ctx, "x-trace"); ok {
				req.Value += "+" + md
			}
			return &req, nil
		},
		"Fail": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			return nil, status.Errorf(codes.PermissionDenied, "go says no")
		},
	})
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		fail("listen: %v", err)
	}
	if err := s.Serve(context.Background(), l); err != nil && !errors.Is(err, ttrpc.ErrServerClosed) {
		fail("serve: %v", err)
	}
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: %s client|server SOCKET", os.Args[0])
	}
	switch os.Args[1] {
	case "client":
		runClient(os.Args[2])
	case "server":
		runServer(os.Args[2])
	default:
		fail("unknown mode %s", os.Args[1])
	}
}
