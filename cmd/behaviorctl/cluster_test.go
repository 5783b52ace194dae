package main

import (
	"context"
	"strings"
	"testing"

	"github.com/behaviorauth/engine/node/nodetest"
)

// status and drain against a real node: the operator's view of a member, then shrinking the cluster by one.
func TestStatusAndDrainARealNode(t *testing.T) {
	n := nodetest.Start(t, nil)
	e, out, _ := testEnv()
	if err := run(context.Background(), e, []string{"status", "-nodes", n.URL, "-key", nodetest.OperatorKey}); err != nil {
		t.Fatalf("status: %v", err)
	}
	if s := out.String(); !strings.Contains(s, n.URL) || !strings.Contains(s, "ready") || !strings.Contains(s, "true") {
		t.Fatalf("status output:\n%s", s)
	}
	out.Reset()
	if err := run(context.Background(), e, []string{"drain", "-node", n.URL, "-key", "wrong-key-0123456789abcdef"}); err == nil {
		t.Fatal("drain with a wrong key succeeded")
	}
	if err := run(context.Background(), e, []string{"drain", "-node", n.URL, "-key", nodetest.OperatorKey}); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Fatalf("drain output: %s", out.String())
	}
	if err := run(context.Background(), e, []string{"status", "-nodes", n.URL}); err == nil {
		t.Fatal("status of a stopped node reported no error")
	}
}
