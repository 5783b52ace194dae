package transport

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/trace"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/config"
)

// The WebSocket edge (PROTOCOL.md "WebSocket: GET /v1/ws?session_id=ID"). This file authenticates and upgrades,
// and keeps the registry of live connections that Drain closes; ws_conn.go runs one connection, ws_frame.go
// decodes client frames, ws_encode.go writes server frames; ws_schema.json describes every message both ways.

const (
	wsPath         = "/v1/ws"
	wsSubprotocol  = "behavior.v1"
	wsBearerPrefix = "bearer."
	wsMaxSessionID = 64
)

// WebSocket close codes (PROTOCOL.md), and 1013 for a session the engine cannot reach now.
const (
	wsCloseUnauthorized = 4001
	wsCloseBlocked      = 4003
	wsCloseEnded        = 4004
	wsClosePolicy       = websocket.ClosePolicyViolation // message rate over the limit
	wsCloseTooLarge     = websocket.CloseMessageTooBig
	wsCloseRestart      = websocket.CloseServiceRestart // the node drains: reconnect elsewhere
	wsCloseTryLater     = websocket.CloseTryAgainLater
)

// wsHub upgrades WebSocket requests and keeps the live connections, so that Drain can close them.
type wsHub struct {
	log        *slog.Logger
	auth       *auth.Service
	engine     *actors.Engine
	limits     config.Limits
	origins    []string
	anyOrigin  bool
	trustProxy bool
	keyHashKey []byte
	reqTimeout time.Duration
	nodeDrains func() bool

	upgrader websocket.Upgrader
	outs     sync.Pool // *wsOut
	reads    sync.Pool // *bytes.Buffer

	mu          sync.Mutex
	conns       map[*wsConn]struct{}
	draining    bool
	empty       chan struct{} // closed once draining with no connection left
	emptyClosed bool
}

// wsRoutes registers the WebSocket endpoint of PROTOCOL.md.
func (s *Server) wsRoutes() {
	s.mux.Handle("GET "+wsPath, newWSHub(s.opts))
}

func newWSHub(o Options) *wsHub {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &wsHub{
		log: logger.With("component", "ws"), auth: o.Auth, engine: o.Engine,
		limits: wsLimits(o.Limits), trustProxy: o.HTTP.TrustProxyHeaders, keyHashKey: o.KeyHashKey,
		reqTimeout: o.RequestTimeout, nodeDrains: o.Draining,
		conns: make(map[*wsConn]struct{}), empty: make(chan struct{}),
	}
	if h.reqTimeout <= 0 {
		h.reqTimeout = 10 * time.Second
	}
	for _, origin := range o.HTTP.AllowedOrigins {
		if origin == "*" {
			h.anyOrigin = true
		}
		h.origins = append(h.origins, strings.TrimSuffix(origin, "/"))
	}
	if len(h.keyHashKey) == 0 {
		h.log.Warn("no key hashing key configured: key codes are hashed under an empty key")
	}
	h.outs.New = func() any { return &wsOut{b: make([]byte, 0, 256)} }
	h.reads.New = func() any { return new(bytes.Buffer) }
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// A small read buffer of its own (frames are read through it, whatever their size) rather than the HTTP
		// server's 4 KiB one; writes borrow a pooled buffer only while they run, so an idle connection holds none.
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{wsSubprotocol},
		// The origin was checked before the upgrade, with the JSON error body.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			we := errInternal()
			if status < 500 {
				we = errInvalid("", reason.Error())
				we.status = status
			}
			writeError(w, r, h.log, we)
		},
	}
	return h
}

// wsLimits fills the limits left zero with config's defaults, so that a Server built without them still bounds
// every connection.
func wsLimits(l config.Limits) config.Limits {
	d := config.Default().Limits
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = d.MaxFrameBytes
	}
	if !(l.MessagesPerSecond > 0) {
		l.MessagesPerSecond = d.MessagesPerSecond
	}
	if l.MessageBurst <= 0 {
		l.MessageBurst = d.MessageBurst
	}
	if l.MaxEventsPerMessage <= 0 {
		l.MaxEventsPerMessage = d.MaxEventsPerMessage
	}
	if l.OutgoingQueue <= 0 {
		l.OutgoingQueue = d.OutgoingQueue
	}
	if l.PingInterval <= 0 {
		l.PingInterval = d.PingInterval
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	return l
}

// ServeHTTP authenticates the request and upgrades it. Every refusal happens before the upgrade, as a JSON error:
// 503 while the node drains, 403 for an origin outside the list, 400 for a request that is not a WebSocket
// upgrade or lacks session_id, 401 for a missing, bad, expired or revoked session token, 403 for a token of
// another session.
func (h *wsHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.isDraining() {
		writeError(w, r, h.log, errUnavailable("node going down; reconnect to another node"))
		return
	}
	if !h.originAllowed(r.Header.Get("Origin")) {
		writeError(w, r, h.log, errForbidden("origin not allowed"))
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		writeError(w, r, h.log, errInvalid("", "a WebSocket upgrade is required"))
		return
	}
	sid := r.URL.Query().Get("session_id")
	if sid == "" {
		writeError(w, r, h.log, errInvalid("session_id", "session_id is required"))
		return
	}
	if !wsValidID(sid) {
		writeError(w, r, h.log, errInvalid("session_id", "session_id is malformed"))
		return
	}
	token, werr := wsToken(r)
	if werr != nil {
		writeError(w, r, h.log, werr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.reqTimeout)
	claims, err := h.auth.VerifySession(ctx, token)
	cancel()
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	if claims.SessionID != sid {
		writeError(w, r, h.log, errForbidden("the session token is for another session"))
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	// The connection outlives the request (the server forgets a hijacked connection) but keeps its trace id.
	// It runs on a goroutine of its own and the handler returns: the HTTP server's goroutine, its deep stack,
	// its buffered writer and the request's span are all released, which is most of what an idle connection
	// would otherwise hold.
	cctx, ccancel := context.WithCancel(trace.ContextWithSpanContext(context.Background(), trace.SpanContextFromContext(r.Context())))
	c := newWSConn(h, conn, claims, token, clientAddr(r, h.trustProxy))
	go func() {
		defer ccancel()
		c.run(cctx)
	}()
}

// wsToken takes the session token from `Authorization: Bearer <t>` (native clients; it wins when both are sent)
// or from the subprotocol list `behavior.v1, bearer.<t>` (browsers, which cannot set headers on a WebSocket).
func wsToken(r *http.Request) (string, *WireError) {
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
		tok = strings.TrimSpace(tok)
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", errUnauthorized("malformed Authorization header (want Bearer <session token>)")
		}
		return tok, nil
	}
	var tok string
	offered := false
	for _, p := range websocket.Subprotocols(r) {
		if p == wsSubprotocol {
			offered = true
		} else if t, ok := strings.CutPrefix(p, wsBearerPrefix); ok && tok == "" {
			tok = t
		}
	}
	if tok == "" {
		return "", errUnauthorized("a session token is required (Authorization: Bearer <token>, or the subprotocols behavior.v1, bearer.<token>)")
	}
	if !offered {
		// A browser fails a handshake whose answer names no subprotocol it offered; say why instead.
		return "", errInvalid("Sec-WebSocket-Protocol", "offer the subprotocol behavior.v1 along with bearer.<token>")
	}
	return tok, nil
}

// wsValidID accepts what session ids look like (UUIDs), bounded, so that nothing odd reaches the logs or the
// engine.
func wsValidID(s string) bool {
	if len(s) > wsMaxSessionID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// originAllowed: no Origin header is a native client; a browser's origin must be in http.allowed_origins ("*"
// allows any).
func (h *wsHub) originAllowed(origin string) bool {
	if origin == "" || h.anyOrigin {
		return true
	}
	origin = strings.TrimSuffix(origin, "/")
	for _, o := range h.origins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func (h *wsHub) isDraining() bool {
	h.mu.Lock()
	d := h.draining
	h.mu.Unlock()
	return d || (h.nodeDrains != nil && h.nodeDrains())
}

// register adds a connection; false when the hub drains (the connection is then closed with 1012 at once).
func (h *wsHub) register(c *wsConn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

func (h *wsHub) unregister(c *wsConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	if h.draining && len(h.conns) == 0 && !h.emptyClosed {
		close(h.empty)
		h.emptyClosed = true
	}
}

func (h *wsHub) drain(ctx context.Context) {
	h.mu.Lock()
	h.draining = true
	conns := make([]*wsConn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	if len(h.conns) == 0 && !h.emptyClosed {
		close(h.empty)
		h.emptyClosed = true
	}
	h.mu.Unlock()
	if len(conns) > 0 {
		h.log.InfoContext(ctx, "draining websocket connections", "connections", len(conns))
	}
	for _, c := range conns {
		c.closeSoon(wsCloseRestart, "node going down")
	}
	select {
	case <-h.empty:
		return
	case <-ctx.Done():
	}
	h.mu.Lock()
	left := len(h.conns)
	for c := range h.conns {
		c.abort("drain deadline passed")
	}
	h.mu.Unlock()
	h.log.WarnContext(ctx, "drain deadline passed; remaining websocket connections cut", "connections", left)
}

// Drain closes every live WebSocket connection with 1012 ("node going down"), letting a message the engine is
// applying finish and be acknowledged first, and waits until the connections are gone or ctx ends; then it cuts
// the rest. From the first call on, new upgrades are refused with 503. The node calls it on shutdown before
// http.Server.Shutdown, which neither closes nor waits for hijacked (WebSocket) connections.
func (s *Server) Drain(ctx context.Context) {
	if h := s.wsHub(); h != nil {
		h.drain(ctx)
	}
}

// wsHub finds the hub registered by wsRoutes (nil when the WebSocket endpoint is not served). Server keeps no
// field for it, so it is looked up in the router, where it is the handler of the endpoint.
func (s *Server) wsHub() *wsHub {
	h, _ := s.mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: wsPath}, Header: http.Header{}})
	hub, _ := h.(*wsHub)
	return hub
}
