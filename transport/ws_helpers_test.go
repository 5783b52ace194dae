package transport_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node/nodetest"
	"github.com/behaviorauth/engine/transport"
)

// Helpers of the WebSocket integration tests: a real node (Postgres, cluster, engine) on loopback, sessions made
// through the accounts service and the engine directly (not through REST), and a gorilla client.

const (
	wsPassword = "correct horse battery staple"
	wsMPIN     = "482916"
	wsWait     = 10 * time.Second // the longest any single expectation waits
)

type wsNode struct {
	*nodetest.Node
	wsURL string
	users atomic.Int64
}

func startWSNode(tb testing.TB, mutate func(*config.Config)) *wsNode {
	tb.Helper()
	n := nodetest.Start(tb, mutate)
	return &wsNode{Node: n, wsURL: "ws" + strings.TrimPrefix(n.URL, "http") + "/v1/ws"}
}

func wsCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// wsSession is a live behavioral session as a client holds it.
type wsSession struct {
	id, token, userID, loginID, access string
}

// session registers a user, logs in, verifies the MPIN and activates the session actor. Each user comes from its
// own address, so the per-address rate limit of the accounts service never interferes.
func (n *wsNode) session(tb testing.TB) wsSession {
	tb.Helper()
	ctx := wsCtx(tb)
	k := n.users.Add(1)
	client := auth.Client{Addr: fmt.Sprintf("10.77.%d.%d", k/200, k%200+1)}
	a := n.Auth()
	phone := fmt.Sprintf("+9198%08d", 1000+k)
	userID, err := a.Register(ctx, auth.RegisterRequest{Phone: phone, Password: wsPassword, MPIN: wsMPIN}, client)
	if err != nil {
		tb.Fatalf("register: %v", err)
	}
	tok, err := a.Login(ctx, auth.LoginRequest{Phone: phone, Password: wsPassword}, client)
	if err != nil {
		tb.Fatalf("login: %v", err)
	}
	claims, err := a.VerifyAccess(ctx, tok.AccessToken)
	if err != nil {
		tb.Fatalf("verify access: %v", err)
	}
	grant, err := a.StartSession(ctx, claims, wsMPIN, client)
	if err != nil {
		tb.Fatalf("mpin verify: %v", err)
	}
	if err := n.Engine().StartSession(ctx, grant.SessionID, userID, claims.LoginID, grant.ExpiresAt); err != nil {
		tb.Fatalf("start session: %v", err)
	}
	return wsSession{id: grant.SessionID, token: grant.SessionToken, userID: userID, loginID: claims.LoginID, access: tok.AccessToken}
}

func (n *wsNode) status(tb testing.TB, sid string) *enginepb.Status {
	tb.Helper()
	st, err := n.Engine().Status(wsCtx(tb), sid)
	if err != nil {
		tb.Fatalf("status: %v", err)
	}
	return st
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// wsDial dials base?session_id=sid (no query when sid is empty).
func wsDial(base, sid string, hdr http.Header, protocols ...string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: protocols}
	u := base
	if sid != "" {
		u += "?session_id=" + url.QueryEscape(sid)
	}
	return d.Dial(u, hdr)
}

// wsRefused checks a handshake refused before any upgrade, with status and the JSON error code.
func wsRefused(tb testing.TB, c *websocket.Conn, resp *http.Response, err error, status int, code string) {
	tb.Helper()
	if err == nil {
		c.Close()
		tb.Fatalf("upgraded; want %d %s", status, code)
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		tb.Fatalf("dial: %v; want a refused handshake %d", err, status)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		tb.Fatalf("status %d %s; want %d %s", resp.StatusCode, body, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Fatalf("content type %q", ct)
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		tb.Fatalf("body %s; want error code %s", body, code)
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != "" || resp.Header.Get("Upgrade") != "" {
		tb.Fatal("a refusal carries upgrade headers")
	}
}

// wsClient is a connected client whose background reader answers control pings and collects frames.
type wsClient struct {
	tb     testing.TB
	c      *websocket.Conn
	frames chan []byte
	done   chan struct{}
	err    error // why reading stopped; read after done
	seq    int64
	clock  float64
}

// connect dials with the session token as a bearer header and starts the reader.
func (n *wsNode) connect(tb testing.TB, s wsSession) *wsClient {
	tb.Helper()
	return n.connectWith(tb, s, nil)
}

// connectWith is connect with setup run on the connection before its reader starts (control frame handlers
// must be set before).
func (n *wsNode) connectWith(tb testing.TB, s wsSession, setup func(*websocket.Conn)) *wsClient {
	tb.Helper()
	c, resp, err := wsDial(n.wsURL, s.id, bearer(s.token))
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
		tb.Fatalf("dial: %v %s", err, body)
	}
	if setup != nil {
		setup(c)
	}
	return newWSClient(tb, c)
}

func newWSClient(tb testing.TB, c *websocket.Conn) *wsClient {
	cl := &wsClient{tb: tb, c: c, frames: make(chan []byte, 4096), done: make(chan struct{})}
	go func() {
		defer close(cl.done)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				cl.err = err
				return
			}
			select {
			case cl.frames <- data:
			default:
				cl.err = errors.New("test client: frame buffer full")
				return
			}
		}
	}()
	tb.Cleanup(func() { c.Close() })
	return cl
}

func (cl *wsClient) sendRaw(mt int, data []byte) error {
	_ = cl.c.SetWriteDeadline(time.Now().Add(wsWait))
	return cl.c.WriteMessage(mt, data)
}

func (cl *wsClient) send(v any) {
	cl.tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		cl.tb.Fatal(err)
	}
	if err := cl.sendRaw(websocket.TextMessage, b); err != nil {
		cl.tb.Fatalf("send: %v", err)
	}
}

// wsFrame is a server frame, as the tests read it.
type wsFrame struct {
	Type        string   `json:"type"`
	Seq         int64    `json:"seq"`
	DecisionSeq int64    `json:"decision_seq"`
	Code        string   `json:"code"`
	Message     string   `json:"message"`
	Index       *int     `json:"index"`
	Action      string   `json:"action"`
	Risk        float64  `json:"risk"`
	Mode        string   `json:"mode"`
	Reasons     []string `json:"reasons"`
	ReasonCodes []string `json:"reason_codes"`
	LatencyUs   int64    `json:"latency_us"`
	Sample      *struct {
		Field    string   `json:"field"`
		Modality string   `json:"modality"`
		Status   string   `json:"status"`
		Risk     *float64 `json:"risk"`
	} `json:"sample"`
	raw []byte
}

// next returns the next server frame, checked against ws_schema.json.
func (cl *wsClient) next() wsFrame {
	cl.tb.Helper()
	select {
	case data := <-cl.frames:
		return cl.parse(data)
	case <-cl.done:
		// The reader adds nothing once it has ended, but what it queued before comes first.
		select {
		case data := <-cl.frames:
			return cl.parse(data)
		default:
		}
		cl.tb.Fatalf("connection ended while a frame was expected: %v", cl.err)
	case <-time.After(wsWait):
		cl.tb.Fatal("no frame in time")
	}
	return wsFrame{}
}

func (cl *wsClient) parse(data []byte) wsFrame {
	cl.tb.Helper()
	transport.ValidateWSServerFrame(cl.tb, data)
	var f wsFrame
	if err := json.Unmarshal(data, &f); err != nil {
		cl.tb.Fatalf("frame %s: %v", data, err)
	}
	f.raw = data
	return f
}

// expect returns the next frame and checks its type.
func (cl *wsClient) expect(typ string) wsFrame {
	cl.tb.Helper()
	f := cl.next()
	if f.Type != typ {
		cl.tb.Fatalf("frame %s; want type %s", f.raw, typ)
	}
	return f
}

// closed waits for the connection to end and returns the close frame the server sent (code 0 if none); frames
// still queued before it are returned too.
func (cl *wsClient) closed() (code int, reason string, before []wsFrame) {
	cl.tb.Helper()
	select {
	case <-cl.done:
	case <-time.After(wsWait):
		cl.tb.Fatal("the connection was not closed in time")
	}
	for len(cl.frames) > 0 {
		before = append(before, cl.parse(<-cl.frames))
	}
	var ce *websocket.CloseError
	if errors.As(cl.err, &ce) {
		return ce.Code, ce.Text, before
	}
	return 0, "", before
}

// expectClose waits for a close frame with code.
func (cl *wsClient) expectClose(code int) (string, []wsFrame) {
	cl.tb.Helper()
	got, reason, before := cl.closed()
	if got != code {
		cl.tb.Fatalf("closed with %d %q (%v); want %d", got, reason, cl.err, code)
	}
	return reason, before
}

// pingPong checks that the connection is open and answering.
func (cl *wsClient) pingPong() {
	cl.tb.Helper()
	cl.send(map[string]string{"type": "ping"})
	cl.expect("pong")
}

// wsEvent is a client event as the wire carries it.
type wsEvent struct {
	Kind   string   `json:"kind"`
	T      float64  `json:"t"`
	Phase  string   `json:"phase,omitempty"`
	Code   string   `json:"code,omitempty"`
	Field  string   `json:"field,omitempty"`
	X      *float64 `json:"x,omitempty"`
	Y      *float64 `json:"y,omitempty"`
	Screen string   `json:"screen,omitempty"`
}

type wsEvents struct {
	Type   string    `json:"type"`
	Seq    int64     `json:"seq"`
	Events []wsEvent `json:"events"`
}

// sendEvents sends evs as the next message (or as seq when seq > 0, for resends) and returns its seq.
func (cl *wsClient) sendEvents(seq int64, evs []wsEvent) int64 {
	cl.tb.Helper()
	if seq == 0 {
		cl.seq++
		seq = cl.seq
	}
	b, _ := json.Marshal(wsEvents{Type: "events", Seq: seq, Events: evs})
	transport.ValidateWSClientFrame(cl.tb, b)
	if err := cl.sendRaw(websocket.TextMessage, b); err != nil {
		cl.tb.Fatalf("send seq %d: %v", seq, err)
	}
	return seq
}

func navEvents(n int, t0 float64) []wsEvent {
	evs := make([]wsEvent, n)
	for i := range evs {
		evs[i] = wsEvent{Kind: "nav", T: t0 + float64(i), Screen: "home"}
	}
	return evs
}

// secret is the key sequence of the typed field, as key codes the SDK would send.
var secret = []string{"KeyT", "KeyR", "KeyA", "KeyN", "KeyS", "KeyF", "KeyE", "KeyR", "Digit4", "Digit2"}

// typist types with its own rhythm: per-key hold and flight times, with jitter.
type typist struct {
	hold, flight []float64
	jitter       float64
	rng          *rand.Rand
}

func newTypist(seed uint64, holdMean, flightMean float64) *typist {
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	ty := &typist{jitter: 0.08, rng: rng}
	for range secret {
		ty.hold = append(ty.hold, holdMean*(0.7+0.6*rng.Float64()))
		ty.flight = append(ty.flight, flightMean*(0.6+0.8*rng.Float64()))
	}
	return ty
}

// entry types the secret into field from the client's clock and commits it.
func (cl *wsClient) entry(ty *typist, field string) []wsEvent {
	var evs []wsEvent
	t := cl.clock
	for i, code := range secret {
		h := ty.hold[i] * (1 + ty.jitter*ty.rng.NormFloat64())
		evs = append(evs, wsEvent{Kind: "key", T: t, Phase: "down", Code: code, Field: field},
			wsEvent{Kind: "key", T: t + h, Phase: "up", Code: code, Field: field})
		t += ty.flight[i] * (1 + ty.jitter*ty.rng.NormFloat64())
	}
	t += 200
	evs = append(evs, wsEvent{Kind: "commit", T: t, Field: field})
	cl.clock = t + 500
	return evs
}

// exchange sends evs as the next message and reads what it brings up to its ack: decisions only (every one of
// this message), in order. The ack always comes, after the decisions, even when a decision blocks.
func (cl *wsClient) exchange(evs []wsEvent) (seq int64, decisions []wsFrame) {
	cl.tb.Helper()
	seq = cl.sendEvents(0, evs)
	for {
		f := cl.next()
		switch f.Type {
		case "ack":
			if f.Seq != seq {
				cl.tb.Fatalf("ack %d; want %d", f.Seq, seq)
			}
			return seq, decisions
		case "decision":
			if f.Seq != seq {
				cl.tb.Fatalf("decision of message %d; want %d", f.Seq, seq)
			}
			decisions = append(decisions, f)
		default:
			cl.tb.Fatalf("frame %s while waiting for the ack of %d", f.raw, seq)
		}
	}
}

// typeEntry types one entry of field as one message and returns the decision of its keystroke sample (other
// samples, such as free text every few entries, may come with it).
func (cl *wsClient) typeEntry(ty *typist, field string) (keystroke wsFrame, all []wsFrame) {
	cl.tb.Helper()
	_, all = cl.exchange(cl.entry(ty, field))
	n := 0
	for _, d := range all {
		if d.Sample != nil && d.Sample.Modality == "keystroke" {
			keystroke = d
			n++
		}
	}
	if n != 1 {
		cl.tb.Fatalf("%d keystroke decisions for one entry: %v", n, all)
	}
	return keystroke, all
}

// smallReadBuffer is a dialer whose sockets take little from the server before its writes block: a client that
// stops reading is noticed quickly.
func smallReadBuffer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, nil
	}
}
