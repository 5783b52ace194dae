package loadgen

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors"
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

func TestIsChallenge(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{`{"type":"decision","seq":7,"decision_seq":3,"action":"challenge","risk":0.7}`, true},
		{`{"type":"decision","seq":7,"decision_seq":3,"action":"allow","risk":0.1}`, false},
		{`{"type":"decision","seq":7,"action":"block","reasons":["said \\"action\\":\\"challenge\\""]}`, false},
		{`{"type":"ack","seq":12}`, false},
	}
	for _, tc := range cases {
		if got := isChallenge([]byte(tc.in)); got != tc.want {
			t.Errorf("%s: got %v", tc.in, got)
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
	if res.Frames == 0 || res.Decisions == 0 || res.Errors != 0 || res.Reconnects != 0 || res.LatencyP50us <= 0 {
		t.Fatalf("echo run: %+v", res)
	}
}

func TestRunAgainstNode(t *testing.T) {
	// Auth rate limits raised as `make bench` raises them: a genuine user's occasional step-up must not be refused.
	n := nodetest.Start(t, generous)
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

// generous lets a test node take the logins and step-ups of a short, busy run without rate limiting them.
func generous(c *config.Config) {
	c.Policy.EnrollmentSamples = 5
	c.Limits.MessagesPerSecond = 10000
	c.Limits.MessageBurst = 10000
	c.Auth.RatePerAccount = 100000
	c.Auth.RatePerAddress = 100000
}

// liveOf lists the node's live sessions that are not among skip.
func liveOf(n *nodetest.Node, skip map[string]bool) []actors.LiveSession {
	var out []actors.LiveSession
	for _, s := range n.Engine().LiveSessions() {
		if !skip[s.SessionID] && s.State != actors.StateBlocked && s.State != actors.StateEnded {
			out = append(out, s)
		}
	}
	return out
}

// Every decision asks for a step-up that expires quickly: without an answer the sessions are blocked within the
// run; answered with the MPIN, they stay live and no session needs replacing.
func TestRunAnswersChallenges(t *testing.T) {
	n := nodetest.Start(t, func(c *config.Config) {
		generous(c)
		c.Policy.ChallengeThreshold = 1e-9
		c.Policy.ChallengeTimeout = 700 * time.Millisecond
	})
	const users = 2
	res, err := Run(context.Background(), Config{BaseURL: n.URL, Users: users, Duration: 2 * time.Second, Rate: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.StepUps == 0 || res.SessionsReopened != 0 || res.Errors != 0 || res.Decisions == 0 {
		t.Fatalf("challenged run: %+v", res)
	}
	if live := liveOf(n, nil); len(live) != users {
		t.Fatalf("live sessions after the run: %+v", live)
	}
}

// Once challenged, every decision asks again; step-ups the node refuses (the account's auth rate limit) are
// retried after a pause, not once per decision.
func TestRunBacksOffRefusedStepUps(t *testing.T) {
	n := nodetest.Start(t, func(c *config.Config) {
		generous(c)
		c.Auth.RatePerAccount = 6 // register, login and MPIN verify take 3
		c.Policy.ChallengeThreshold = 1e-9
		c.Policy.ChallengeTimeout = time.Minute
	})
	const users = 2
	res, err := Run(context.Background(), Config{BaseURL: n.URL, Users: users, Duration: 2 * time.Second, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	// Without the pause the refusals number one per decision (about 100 per user here).
	if res.StepUps == 0 || res.Errors == 0 || res.Errors > 8*users || res.SessionsReopened != 0 {
		t.Fatalf("refused step-ups: %+v", res)
	}
	// Every error is a step-up the rate limit refused, and counted as such.
	if len(res.ErrorKinds) != 1 || res.ErrorKinds["step-up 429"] != res.Errors {
		t.Fatalf("errors by kind: %v; want all %d as step-up 429", res.ErrorKinds, res.Errors)
	}
}

// A session the server ends or blocks mid-run is replaced: the user logs in again and streams on a new session.
func TestRunReopensSessions(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*config.Config)
		// end ends the run's first sessions from outside (nil: the policy ends them itself).
		end bool
	}{
		{name: "ended by the operator", mutate: generous, end: true},
		{name: "blocked by the policy", mutate: func(c *config.Config) {
			generous(c)
			c.Policy.ChallengeThreshold, c.Policy.BlockThreshold = 1e-9, 1e-9
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := nodetest.Start(t, tc.mutate)
			const users = 2
			type outcome struct {
				res Result
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := Run(context.Background(), Config{BaseURL: n.URL, Users: users, Duration: 2500 * time.Millisecond, Rate: 40})
				done <- outcome{res, err}
			}()
			first := map[string]bool{}
			if tc.end {
				nodetest.WaitFor(t, 20*time.Second, func() bool {
					live := liveOf(n, nil)
					for _, s := range live {
						if s.Samples == 0 {
							return false
						}
					}
					return len(live) == users
				}, "every user streaming")
				for _, s := range liveOf(n, nil) {
					first[s.SessionID] = true
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := n.Engine().End(ctx, s.SessionID, "operator")
					cancel()
					if err != nil {
						t.Fatalf("end %s: %v", s.SessionID, err)
					}
				}
				// Looked at while the run goes on: a genuine user's replacement can still be blocked by the
				// detector later in the run (five enrollment samples say little), which is not what this tests.
				nodetest.WaitFor(t, 20*time.Second, func() bool {
					live := liveOf(n, first)
					for _, s := range live {
						if s.Samples == 0 {
							return false
						}
					}
					return len(live) == users
				}, "every user streaming on a replacement session")
			}
			var o outcome
			select {
			case o = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("run did not return")
			}
			if o.err != nil {
				t.Fatal(o.err)
			}
			res := o.res
			t.Logf("%+v", res)
			if res.SessionsReopened < users {
				t.Fatalf("sessions reopened: %+v", res)
			}
			if !tc.end && res.SessionsReopened < 2*users {
				// A replacement is blocked in turn only once it has streamed samples to score.
				t.Fatalf("blocked run: %+v", res)
			}
		})
	}
}

// The reader's cheap look at server frames must hold on any input: no panic, a kind without its closing quote.
func FuzzServerFrame(f *testing.F) {
	f.Add([]byte(`{"type":"decision","seq":7,"decision_seq":3,"action":"challenge","risk":0.7}`))
	f.Add([]byte(`{"type":"ack","seq":-12}`))
	f.Add([]byte(`{"type":"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, _ := replyKind(b)
		if strings.Contains(kind, `"`) {
			t.Fatalf("kind %q holds a quote", kind)
		}
		if isChallenge(b) && !strings.Contains(string(b), `"action":"challenge"`) {
			t.Fatalf("challenge found in %q", b)
		}
	})
}

func TestAppendTenths(t *testing.T) {
	for _, v := range []float64{0, 0.04, 0.06, 1, 12.34, 12.36, 99.96, 1234567.8, -0.06, -3.21, 5e9} {
		got := string(appendTenths(nil, v))
		if want := strconv.FormatFloat(v, 'f', 1, 64); got != want {
			t.Errorf("appendTenths(%v) = %s, want %s", v, got, want)
		}
	}
}
