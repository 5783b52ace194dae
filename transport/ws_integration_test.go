package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/transport"
)

// wsEnroll is the enrollment size of the test node: enough samples for a calibrated profile.
const wsEnroll = 10

// TestWS runs the WebSocket endpoint of a real node: authentication, frames, ordering, closes.
func TestWS(t *testing.T) {
	n := startWSNode(t, func(c *config.Config) {
		c.Policy.EnrollmentSamples = wsEnroll
		// A far typist's risk reaches about 0.88 against 10 enrollment samples: block below that.
		c.Policy.BlockThreshold = 0.85
		c.HTTP.AllowedOrigins = []string{"http://localhost:8080", "https://bank.example"}
	})

	t.Run("refused before the upgrade", func(t *testing.T) {
		t.Parallel()
		s := n.session(t)
		other := n.session(t)
		revoked := n.session(t)
		if err := n.Auth().RevokeLogin(wsCtx(t), revoked.loginID, "test"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name      string
			sid       string
			header    http.Header
			protocols []string
			status    int
			code      string
		}{
			{"no token", s.id, nil, nil, 401, "unauthorized"},
			{"garbage bearer header", s.id, bearer("garbage"), nil, 401, "unauthorized"},
			{"garbage subprotocol token", s.id, nil, []string{"behavior.v1", "bearer.garbage"}, 401, "unauthorized"},
			{"not a bearer scheme", s.id, http.Header{"Authorization": {"Basic " + s.token}}, nil, 401, "unauthorized"},
			{"forged signature", s.id, bearer(s.token[:len(s.token)-4] + "AAAA"), nil, 401, "unauthorized"},
			{"access token instead of session token", s.id, bearer(s.access), nil, 401, "unauthorized"},
			{"access token as subprotocol", s.id, nil, []string{"behavior.v1", "bearer." + s.access}, 401, "unauthorized"},
			{"revoked login", revoked.id, bearer(revoked.token), nil, 401, "unauthorized"},
			{"revoked login, subprotocol", revoked.id, nil, []string{"behavior.v1", "bearer." + revoked.token}, 401, "unauthorized"},
			{"token of another session", s.id, bearer(other.token), nil, 403, "forbidden"},
			{"token of another session, subprotocol", s.id, nil, []string{"behavior.v1", "bearer." + other.token}, 403, "forbidden"},
			{"origin not allowed", s.id, http.Header{"Authorization": {"Bearer " + s.token}, "Origin": {"https://evil.example"}}, nil, 403, "forbidden"},
			{"origin not allowed, subprotocol", s.id, http.Header{"Origin": {"http://localhost:9999"}}, []string{"behavior.v1", "bearer." + s.token}, 403, "forbidden"},
			{"no session_id", "", bearer(s.token), nil, 400, "invalid_request"},
			{"malformed session_id", "a b/c", bearer(s.token), nil, 400, "invalid_request"},
			{"bearer subprotocol without behavior.v1", s.id, nil, []string{"bearer." + s.token}, 400, "invalid_request"},
		}
		for _, tt := range tests {
			c, resp, err := wsDial(n.wsURL, tt.sid, tt.header, tt.protocols...)
			t.Run(tt.name, func(t *testing.T) { wsRefused(t, c, resp, err, tt.status, tt.code) })
		}
		// A plain GET (no upgrade) is refused too.
		resp, err := http.Get(n.URL + "/v1/ws?session_id=" + s.id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain GET: %d", resp.StatusCode)
		}
		// The session that the refusals named is untouched: it still connects.
		n.connect(t, s).pingPong()
	})

	t.Run("accepted", func(t *testing.T) {
		t.Parallel()
		s := n.session(t)
		tests := []struct {
			name      string
			header    http.Header
			protocols []string
			proto     string
		}{
			{"bearer header", bearer(s.token), nil, ""},
			{"subprotocol list", nil, []string{"behavior.v1", "bearer." + s.token}, "behavior.v1"},
			{"subprotocol list, token first", nil, []string{"bearer." + s.token, "behavior.v1"}, "behavior.v1"},
			{"header wins over a bad subprotocol token", bearer(s.token), []string{"behavior.v1", "bearer.garbage"}, "behavior.v1"},
			{"allowed origin", http.Header{"Origin": {"http://localhost:8080"}}, []string{"behavior.v1", "bearer." + s.token}, "behavior.v1"},
			{"allowed origin, other case and slash", http.Header{"Origin": {"HTTPS://Bank.Example/"}, "Authorization": {"Bearer " + s.token}}, nil, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, resp, err := wsDial(n.wsURL, s.id, tt.header, tt.protocols...)
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				if c.Subprotocol() != tt.proto {
					t.Fatalf("subprotocol %q; want %q", c.Subprotocol(), tt.proto)
				}
				if got := resp.Header.Values("Sec-Websocket-Protocol"); strings.Contains(strings.Join(got, ","), s.token) ||
					strings.Contains(strings.Join(got, ","), "bearer") {
					t.Fatalf("the answer echoes the token: %v", got)
				}
				cl := newWSClient(t, c)
				cl.pingPong()
				c.Close()
			})
		}
	})

	t.Run("ping and pong", func(t *testing.T) {
		t.Parallel()
		pongs := make(chan string, 1)
		cl := n.connectWith(t, n.session(t), func(c *websocket.Conn) {
			c.SetPongHandler(func(data string) error { pongs <- data; return nil })
		})
		cl.pingPong()
		if err := cl.c.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(wsWait)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pongs:
			if got != "hi" {
				t.Fatalf("control pong %q", got)
			}
		case <-time.After(wsWait):
			t.Fatal("no control pong")
		}
		cl.pingPong()
	})

	t.Run("bad frames get errors and the connection stays open", func(t *testing.T) {
		t.Parallel()
		s := n.session(t)
		cl := n.connect(t, s)
		for _, tt := range []struct {
			mt   int
			data string
			code string
		}{
			{websocket.TextMessage, `this is not json`, "invalid_frame"},
			{websocket.TextMessage, `{"type":"events","seq":1,"events":[`, "invalid_frame"},
			{websocket.TextMessage, `[1,2,3]`, "invalid_frame"},
			{websocket.TextMessage, `{"type":"subscribe"}`, "invalid_type"},
			{websocket.TextMessage, `{"seq":1,"events":[]}`, "invalid_type"},
			{websocket.TextMessage, `{"type":"events","seq":"one","events":[]}`, "invalid_frame"},
			{websocket.TextMessage, `{"type":"events","seq":1,"events":{}}`, "invalid_frame"},
			{websocket.BinaryMessage, `{"type":"ping"}`, "invalid_frame"},
		} {
			if err := cl.sendRaw(tt.mt, []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			if f := cl.expect("error"); f.Code != tt.code || f.Message == "" || f.Index != nil {
				t.Fatalf("%s: error %s; want %s", tt.data, f.raw, tt.code)
			}
		}
		cl.pingPong()
		if st := n.status(t, s.id); st.Events != 0 || st.LastSeq != 0 {
			t.Fatalf("refused frames were applied: %d events, last seq %d", st.Events, st.LastSeq)
		}

		// Bad events are named; the good ones of the same message are applied, and the message is acknowledged.
		x := 1.5
		evs := []wsEvent{
			{Kind: "nav", T: 1, Screen: "home"},
			{Kind: "teleport", T: 2},
			{Kind: "nav", T: 3, Screen: "transfer"},
			{Kind: "pointer", T: 4, Phase: "move", X: &x}, // no y
			{Kind: "key", T: 5, Phase: "down", Code: "KeyA", Field: "note"},
			{Kind: "commit", T: 6, Field: "never-typed"}, // valid for the transport, refused by the engine
			{Kind: "key", T: 7, Phase: "up", Code: "KeyA", Field: "note"},
		}
		raw, _ := json.Marshal(wsEvents{Type: "events", Seq: 1, Events: evs})
		// An event of a type the schema does not know: sent raw, it is the point of the test.
		raw = bytes.Replace(raw, []byte(`{"kind":"nav","t":3`), []byte(`7,{"kind":"nav","t":3`), 1)
		if err := cl.sendRaw(websocket.TextMessage, raw); err != nil {
			t.Fatal(err)
		}
		wantErrs := []int{1, 2, 4, 6} // the client's indexes after inserting the bare 7 at index 2
		for _, i := range wantErrs {
			f := cl.expect("error")
			if f.Code != "invalid_event" || f.Index == nil || *f.Index != i || f.Seq != 1 ||
				!strings.HasPrefix(f.Message, "event ") {
				t.Fatalf("error %s; want invalid_event of event %d", f.raw, i)
			}
		}
		if a := cl.expect("ack"); a.Seq != 1 {
			t.Fatalf("ack %d", a.Seq)
		}
		// Applied: nav, nav, key down, commit (the engine counts it, then refuses its sample), key up.
		if st := n.status(t, s.id); st.Events != 5 || st.LastSeq != 1 {
			t.Fatalf("%d events applied, last seq %d; want 5, 1", st.Events, st.LastSeq)
		}
		cl.pingPong()
	})

	t.Run("frame over the limit closes 1009", func(t *testing.T) {
		t.Parallel()
		cl := n.connect(t, n.session(t))
		big := `{"type":"ping","pad":"` + strings.Repeat("x", n.Config.Limits.MaxFrameBytes) + `"}`
		if err := cl.sendRaw(websocket.TextMessage, []byte(big)); err != nil {
			t.Fatal(err)
		}
		cl.expectClose(websocket.CloseMessageTooBig)
	})

	t.Run("frame at the limit is read", func(t *testing.T) {
		t.Parallel()
		cl := n.connect(t, n.session(t))
		head, tail := `{"type":"ping","pad":"`, `"}`
		exact := head + strings.Repeat("x", n.Config.Limits.MaxFrameBytes-len(head)-len(tail)) + tail
		if err := cl.sendRaw(websocket.TextMessage, []byte(exact)); err != nil {
			t.Fatal(err)
		}
		cl.expect("pong")
	})

	t.Run("a flood closes 1008", func(t *testing.T) {
		t.Parallel()
		cl := n.connect(t, n.session(t))
		lim := n.Config.Limits
		sent := 0
		for i := 0; i < 3*lim.MessageBurst; i++ {
			if cl.sendRaw(websocket.TextMessage, []byte(`{"type":"ping"}`)) != nil {
				break
			}
			sent++
		}
		reason, before := cl.expectClose(websocket.ClosePolicyViolation)
		if reason == "" || len(before) < lim.MessageBurst || len(before) >= sent {
			t.Fatalf("closed %q after %d pongs of %d pings; want at least the burst (%d) and not all", reason, len(before), sent, lim.MessageBurst)
		}
	})

	t.Run("resent seq after a reconnect is acked and not applied again", func(t *testing.T) {
		t.Parallel()
		s := n.session(t)
		cl := n.connect(t, s)
		for seq := int64(1); seq <= 2; seq++ {
			cl.sendEvents(seq, navEvents(3, float64(seq)*10))
			if a := cl.expect("ack"); a.Seq != seq {
				t.Fatalf("ack %d; want %d", a.Seq, seq)
			}
		}
		cl.c.Close()
		<-cl.done

		cl = n.connect(t, s)
		for seq := int64(1); seq <= 2; seq++ {
			cl.sendEvents(seq, navEvents(3, float64(seq)*10))
			if a := cl.expect("ack"); a.Seq != seq {
				t.Fatalf("resend: ack %d; want %d", a.Seq, seq)
			}
		}
		if st := n.status(t, s.id); st.Events != 6 || st.LastSeq != 2 {
			t.Fatalf("after resending: %d events, last seq %d; want 6, 2", st.Events, st.LastSeq)
		}
		// A gap is refused, naming the seq expected, and nothing is applied.
		cl.sendEvents(5, navEvents(1, 100))
		if f := cl.expect("error"); f.Code != "invalid_seq" || f.Seq != 5 || !strings.Contains(f.Message, "expected seq 3") {
			t.Fatalf("gap: %s", f.raw)
		}
		cl.sendEvents(3, navEvents(2, 100))
		if a := cl.expect("ack"); a.Seq != 3 {
			t.Fatalf("ack %d; want 3", a.Seq)
		}
		if st := n.status(t, s.id); st.Events != 8 || st.LastSeq != 3 {
			t.Fatalf("%d events, last seq %d; want 8, 3", st.Events, st.LastSeq)
		}
	})

	t.Run("typing a field to enrollment", func(t *testing.T) {
		t.Parallel()
		s := n.session(t)
		cl := n.connect(t, s)
		owner := newTypist(1, 95, 180)
		var all []wsFrame
		for i := 0; i < wsEnroll; i++ {
			d, ds := cl.typeEntry(owner, "password")
			if d.Mode != "enrolling" || d.Sample.Status != "enrolled" || d.Sample.Field != "password" ||
				d.Sample.Risk != nil || d.Action != "allow" {
				t.Fatalf("enrollment sample %d: %s", i, d.raw)
			}
			all = append(all, ds...)
		}
		d, ds := cl.typeEntry(owner, "password")
		if d.Mode != "scoring" || d.Sample.Status != "scored" || d.Sample.Risk == nil {
			t.Fatalf("first sample after enrollment: %s", d.raw)
		}
		all = append(all, ds...)
		// Two entries in one message: two keystroke decisions, in order, then one ack.
		_, ds = cl.exchange(append(cl.entry(owner, "password"), cl.entry(owner, "password")...))
		var keystrokes int
		for _, d := range ds {
			if d.Sample != nil && d.Sample.Modality == "keystroke" {
				keystrokes++
			}
		}
		if keystrokes != 2 {
			t.Fatalf("%d keystroke decisions for two entries: %v", keystrokes, ds)
		}
		all = append(all, ds...)
		// One decision per sample, numbered in order, none lost or repeated.
		for i, d := range all {
			if d.DecisionSeq != int64(i+1) {
				t.Fatalf("decision %d has decision_seq %d: %v", i, d.DecisionSeq, all)
			}
		}
		prof, err := n.Engine().Profile(wsCtx(t), s.userID)
		if err != nil {
			t.Fatal(err)
		}
		enrolled := false
		for _, f := range prof.Fields {
			enrolled = enrolled || (f.Field == "password" && f.Enrolled)
		}
		if !enrolled {
			t.Fatalf("profile not enrolled: %v", prof)
		}
		if st := n.status(t, s.id); st.Samples != int64(len(all)) {
			t.Fatalf("%d samples; the client got %d decisions", st.Samples, len(all))
		}
	})

	t.Run("ended session closes 4004", func(t *testing.T) {
		t.Parallel()
		s := n.session(t)
		live := n.connect(t, s)
		live.pingPong()
		if _, err := n.Engine().End(wsCtx(t), s.id, "test"); err != nil {
			t.Fatal(err)
		}
		live.expectClose(4004)
		// Reconnecting to the ended session: the token still verifies, the upgrade happens, then 4004.
		c, _, err := wsDial(n.wsURL, s.id, nil, "behavior.v1", "bearer."+s.token)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		newWSClient(t, c).expectClose(4004)
	})

	t.Run("blocked session closes 4003 after the block decision", func(t *testing.T) {
		t.Parallel()
		s := n.session(t)
		cl := n.connect(t, s)
		owner, other := newTypist(11, 95, 180), newTypist(12, 25, 900)
		for i := 0; i < wsEnroll; i++ {
			cl.typeEntry(owner, "password")
		}
		var last wsFrame
		for i := 0; i < 8 && last.Action != "block"; i++ {
			_, ds := cl.exchange(cl.entry(other, "password"))
			for _, d := range ds {
				if last.Action != "block" {
					last = d
				} else {
					t.Fatalf("a decision after the block: %s", d.raw)
				}
			}
		}
		if last.Action != "block" {
			t.Fatalf("another typist was not blocked: %s", last.raw)
		}
		// The block decision and its message's ack came; the close follows them at once.
		if _, before := cl.expectClose(4003); len(before) != 0 {
			t.Fatalf("frames after the ack of the blocking message: %v", before)
		}
		// The block revokes the login (in the background): a reconnect is refused, before or right after the
		// upgrade.
		deadline := time.Now().Add(wsWait)
		for {
			c, resp, err := wsDial(n.wsURL, s.id, bearer(s.token))
			if err == nil {
				newWSClient(t, c).expectClose(4003)
			} else {
				wsRefused(t, c, resp, err, 401, "unauthorized")
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the blocked session's token still authenticates")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// TestWSDrain closes every connection with 1012 and refuses new ones. It runs its own transport.Server over a
// real node's accounts and engine, as the node will once it calls Drain on shutdown.
func TestWSDrain(t *testing.T) {
	n := startWSNode(t, nil)
	srv := transport.New(transport.Options{
		Logger: n.Logger(), Auth: n.Auth(), Engine: n.Engine(), HTTP: n.Config.HTTP, Limits: n.Config.Limits,
		KeyHashKey: []byte("drain test key"), RequestTimeout: 5 * time.Second,
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	base := "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/ws"

	var clients []*wsClient
	for i := 0; i < 3; i++ {
		s := n.session(t)
		c, _, err := wsDial(base, s.id, bearer(s.token))
		if err != nil {
			t.Fatal(err)
		}
		cl := newWSClient(t, c)
		cl.sendEvents(1, navEvents(2, 1))
		cl.expect("ack")
		clients = append(clients, cl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*wsWait)
	defer cancel()
	srv.Drain(ctx)
	if ctx.Err() != nil {
		t.Fatal("Drain waited for its deadline: connections were left")
	}
	for _, cl := range clients {
		if reason, _ := cl.expectClose(websocket.CloseServiceRestart); reason != "node going down" {
			t.Fatalf("reason %q", reason)
		}
	}
	s := n.session(t)
	c, resp, err := wsDial(base, s.id, bearer(s.token))
	wsRefused(t, c, resp, err, http.StatusServiceUnavailable, "unavailable")
	srv.Drain(ctx) // a second drain has nothing left to do
}
