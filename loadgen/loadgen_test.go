package loadgen

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node/nodetest"
)

func TestFrameIsValidJSONWithOneCommit(t *testing.T) {
	ty := newTypist(7, 1)
	for seq := int64(1); seq <= 3; seq++ {
		b := ty.appendFrame(nil, seq)
		var m struct {
			Type   string           `json:"type"`
			Seq    int64            `json:"seq"`
			Events []map[string]any `json:"events"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("frame %d: %v\n%s", seq, err, b)
		}
		if m.Type != "events" || m.Seq != seq || len(m.Events) != EventsPerFrame {
			t.Fatalf("frame %d: %+v", seq, m)
		}
		if m.Events[len(m.Events)-1]["kind"] != "commit" {
			t.Fatalf("frame %d does not end with a commit", seq)
		}
	}
}

func TestReplyKind(t *testing.T) {
	cases := []struct {
		in   string
		kind string
		seq  int64
	}{
		{`{"type":"ack","seq":12}`, "ack", 12},
		{`{"type":"decision","seq":7,"action":"allow"}`, "decision", 7},
		{`{"type":"pong"}`, "pong", 0},
		{`not json`, "", 0},
	}
	for _, tc := range cases {
		k, s := replyKind([]byte(tc.in))
		if k != tc.kind || s != tc.seq {
			t.Errorf("%s: got %q %d", tc.in, k, s)
		}
	}
}

func TestRunAgainstEchoServer(t *testing.T) {
	srv := httptest.NewServer(EchoHandler())
	defer srv.Close()
	res, err := Run(context.Background(), Config{BaseURL: srv.URL, Users: 4, Duration: 700 * time.Millisecond, Echo: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Frames == 0 || res.Decisions == 0 || res.Errors != 0 || res.LatencyP50us <= 0 {
		t.Fatalf("echo run: %+v", res)
	}
}

func TestRunAgainstNode(t *testing.T) {
	n := nodetest.Start(t, func(c *config.Config) {
		c.Policy.EnrollmentSamples = 5
		c.Limits.MessagesPerSecond = 10000
		c.Limits.MessageBurst = 10000
	})
	var progress strings.Builder
	res, err := Run(context.Background(), Config{BaseURL: n.URL, Users: 3, Duration: 2 * time.Second, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if res.Frames == 0 || res.Decisions < res.Frames/2 || res.Errors != 0 {
		t.Fatalf("node run: %+v", res)
	}
	if !strings.Contains(progress.String(), "events/s") {
		t.Fatalf("no progress line: %q", progress.String())
	}
}
