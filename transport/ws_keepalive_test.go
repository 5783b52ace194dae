package transport_test

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node/nodetest"
)

// TestWSKeepalive runs the time-driven parts on a node with short intervals: a client that stops reading, a peer
// that stops answering pings, a login revoked while connected, and a healthy connection over several pings.
func TestWSKeepalive(t *testing.T) {
	n := startWSNode(t, func(c *config.Config) {
		c.Limits.OutgoingQueue = 8
		c.Limits.MessagesPerSecond = 1e6
		c.Limits.MessageBurst = 1_000_000
		c.Limits.WriteTimeout = 500 * time.Millisecond
		c.Limits.PingInterval = 400 * time.Millisecond
		// A challenge left unanswered blocks the session quickly; risk alone never blocks.
		c.Policy.EnrollmentSamples = wsEnroll
		c.Policy.ChallengeTimeout = time.Second
		c.Policy.BlockThreshold = 0.99
	})

	// Not parallel with anything: it counts the process's goroutines.
	t.Run("a client that does not read is disconnected", func(t *testing.T) {
		sessions := []wsSession{n.session(t), n.session(t), n.session(t)}
		// Warm up: one connection through its whole life, so that lazily started goroutines exist already.
		warm := n.connect(t, n.session(t))
		warm.pingPong()
		warm.c.Close()
		<-warm.done
		baseline := settledGoroutines()

		// Each message of 512 bad events makes 512 error frames: the server has much to write and the clients
		// take none of it.
		var evs strings.Builder
		for i := 0; i < n.Config.Limits.MaxEventsPerMessage; i++ {
			if i > 0 {
				evs.WriteByte(',')
			}
			evs.WriteString(`{"kind":"bogus","t":1}`)
		}
		var wg sync.WaitGroup
		cut := make([]bool, len(sessions))
		for i, s := range sessions {
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: smallReadBuffer()}
			c, _, err := d.Dial(n.wsURL+"?session_id="+s.id, bearer(s.token))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := time.Now().Add(3 * wsWait)
				for seq := 1; seq <= 5000 && time.Now().Before(deadline); seq++ {
					_ = c.SetWriteDeadline(time.Now().Add(wsWait))
					msg := `{"type":"events","seq":` + strconv.Itoa(seq) + `,"events":[` + evs.String() + `]}`
					if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
						cut[i] = true // the server closed the connection under us
						return
					}
				}
			}()
		}
		wg.Wait()
		for i, ok := range cut {
			if !ok {
				t.Fatalf("client %d was never disconnected", i)
			}
		}
		nodetest.WaitFor(t, wsWait, func() bool {
			logs := n.Logs()
			return strings.Count(logs, `"reason":"outgoing queue full: client not reading"`)+
				strings.Count(logs, `"reason":"write failed"`)+strings.Count(logs, `"reason":"ping failed"`) >= len(sessions)
		}, "the server to log why it cut the clients")
		waitGoroutines(t, baseline)
		// The sessions themselves are fine: a client that reads can go on.
		n.connect(t, sessions[0]).pingPong()
	})

	t.Run("a peer that does not answer pings is dropped", func(t *testing.T) {
		t.Parallel()
		s := n.session(t)
		c, _, err := wsDial(n.wsURL, s.id, bearer(s.token))
		if err != nil {
			t.Fatal(err)
		}
		c.SetPingHandler(func(string) error { return nil }) // reads, never answers
		cl := newWSClient(t, c)
		if code, _, _ := cl.closed(); code != websocket.CloseAbnormalClosure {
			t.Fatalf("dropped with close code %d; want the connection cut (%d)", code, websocket.CloseAbnormalClosure)
		}
		nodetest.WaitFor(t, wsWait, func() bool { return strings.Contains(n.Logs(), `"reason":"peer silent"`) },
			"the server to log the silent peer")
	})

	t.Run("a healthy connection outlives many ping intervals", func(t *testing.T) {
		t.Parallel()
		pings := make(chan struct{}, 64)
		cl := n.connectWith(t, n.session(t), func(c *websocket.Conn) {
			c.SetPingHandler(func(data string) error {
				select {
				case pings <- struct{}{}:
				default:
				}
				return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(wsWait))
			})
		})
		for i := 0; i < 5; i++ {
			select {
			case <-pings:
			case <-cl.done:
				t.Fatalf("dropped after %d pings: %v", i, cl.err)
			case <-time.After(wsWait):
				t.Fatal("no keepalive ping")
			}
		}
		cl.pingPong()
	})

	t.Run("a challenge left unanswered is pushed as a block, then 4003", func(t *testing.T) {
		t.Parallel()
		cl := n.connect(t, n.session(t))
		owner, other := newTypist(21, 95, 180), newTypist(22, 25, 900)
		for i := 0; i < wsEnroll; i++ {
			cl.typeEntry(owner, "password")
		}
		challenged := false
		for i := 0; i < 5 && !challenged; i++ {
			d, _ := cl.typeEntry(other, "password")
			challenged = d.Action == "challenge"
		}
		if !challenged {
			t.Fatal("another typist was not challenged")
		}
		// Nothing more is sent: the engine decides alone when the challenge expires, and pushes it.
		d := cl.expect("decision")
		if d.Action != "block" || d.Sample != nil || len(d.ReasonCodes) != 1 || d.ReasonCodes[0] != "challenge_expired" || d.Seq != cl.seq {
			t.Fatalf("pushed decision %s", d.raw)
		}
		if _, before := cl.expectClose(4003); len(before) != 0 {
			t.Fatalf("frames after the pushed block: %v", before)
		}
	})

	t.Run("a login revoked while connected closes 4001", func(t *testing.T) {
		t.Parallel()
		s := n.session(t)
		cl := n.connect(t, s)
		cl.pingPong()
		if err := n.Auth().RevokeLogin(wsCtx(t), s.loginID, "test"); err != nil {
			t.Fatal(err)
		}
		if reason, _ := cl.expectClose(4001); !strings.Contains(reason, "revoked") {
			t.Fatalf("reason %q", reason)
		}
		c, resp, err := wsDial(n.wsURL, s.id, bearer(s.token))
		wsRefused(t, c, resp, err, 401, "unauthorized")
	})
}

// TestWSTokenExpiry: a connection closes with 4001 when its session token expires, and the expired token is
// then refused before the upgrade.
func TestWSTokenExpiry(t *testing.T) {
	n := startWSNode(t, func(c *config.Config) { c.Auth.SessionTTL = 2 * time.Second })
	s := n.session(t)
	cl := n.connect(t, s)
	cl.pingPong()
	if reason, _ := cl.expectClose(4001); !strings.Contains(reason, "expired") {
		t.Fatalf("reason %q", reason)
	}
	for _, dial := range []func() (*websocket.Conn, *http.Response, error){
		func() (*websocket.Conn, *http.Response, error) { return wsDial(n.wsURL, s.id, bearer(s.token)) },
		func() (*websocket.Conn, *http.Response, error) {
			return wsDial(n.wsURL, s.id, nil, "behavior.v1", "bearer."+s.token)
		},
	} {
		c, resp, err := dial()
		wsRefused(t, c, resp, err, 401, "unauthorized")
	}
	var body struct{ Error struct{ Message string } }
	c, resp, err := wsDial(n.wsURL, s.id, bearer(s.token))
	if err == nil {
		c.Close()
		t.Fatal("expired token upgraded")
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if !strings.Contains(body.Error.Message, "expired") {
		t.Fatalf("message %q; want it to say expired", body.Error.Message)
	}
}

// settledGoroutines is the process's goroutine count once it stops falling.
func settledGoroutines() int {
	low := runtime.NumGoroutine()
	for i := 0; i < 10; i++ {
		time.Sleep(30 * time.Millisecond)
		low = min(low, runtime.NumGoroutine())
	}
	return low
}

// waitGoroutines waits until the goroutine count is back at baseline (two of slack for the node's own background
// work; every connection holds two, so a leak of even one connection's goroutines shows).
func waitGoroutines(tb testing.TB, baseline int) {
	tb.Helper()
	deadline := time.Now().Add(wsWait)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			tb.Fatalf("%d goroutines, baseline %d:\n%s", n, baseline, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
