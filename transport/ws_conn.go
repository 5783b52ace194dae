package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/auth"
)

const (
	// wsCloseGrace is how long a connection waits for the peer's answer to its close frame.
	wsCloseGrace = 2 * time.Second
	// wsVerifyTimeout bounds one re-verification of the session token.
	wsVerifyTimeout = 3 * time.Second
	// wsKeepOutBuf is the largest outgoing frame buffer returned to the pool.
	wsKeepOutBuf = 4 << 10
)

// wsOut is one server frame waiting in a connection's outgoing queue. Buffers go back to the hub's pool once
// written.
type wsOut struct{ b []byte }

// wsConn is one live WebSocket connection. It runs exactly two goroutines: the reader (the HTTP handler's own
// goroutine), which decodes frames, calls the engine one message at a time, in order, and writes each message's
// answer itself; and the writer, which writes what the session pushes (fed by a bounded queue, from a small local
// actor that receives the pushes), the keepalive pings and the close. Data frames are written under wmu, one
// corked burst at a time. The reader writing its own answers saves a goroutine hand-off per message, the largest
// scheduling cost of the event path.
//
// Closing: any party asks with closeWith (or closeSoon, which lets a message being applied finish first); the
// writer sends what is queued, then the close frame, and gives the peer wsCloseGrace to answer while the reader
// discards further messages; then both goroutines end, the actor is stopped and the connection unregistered.
type wsConn struct {
	h       *wsHub
	conn    *websocket.Conn
	sid     string
	userID  string
	token   string // re-verified periodically; never logged
	expires time.Time
	client  string
	opened  time.Time

	out        chan *wsOut
	closingCh  chan struct{}
	readerDone chan struct{}
	writerDone chan struct{}
	closing    atomic.Bool

	// wmu is held while writing data frames or the close frame; closeSent (under wmu) ends data frames.
	wmu           sync.Mutex
	closeSent     bool
	writeDeadline time.Time // the data frames' write deadline, as last set

	mu            sync.Mutex
	closeCode     int
	closeReason   string
	aborted       bool
	inFlight      bool
	pendingCode   int
	pendingReason string

	// Owned by the reader.
	dec          *wsDecoder
	frame        wsFrame
	msg          *enginepb.Events
	rate         wsBucket
	pid          *actor.PID
	attached     bool
	messages     int64
	peerCode     int
	readExtended time.Time // when a frame last moved the read deadline
	answer       []*wsOut  // the frames answering the message being handled, written together after it
}

func newWSConn(h *wsHub, conn *websocket.Conn, claims auth.SessionClaims, token, client string) *wsConn {
	return &wsConn{
		h: h, conn: conn, sid: claims.SessionID, userID: claims.UserID, token: token, expires: claims.ExpiresAt,
		client: client, opened: time.Now(),
		out:        make(chan *wsOut, h.limits.OutgoingQueue),
		closingCh:  make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		dec:        newWSDecoder(h.keyHashKey, h.limits.MaxEventsPerMessage),
		msg:        &enginepb.Events{},
		rate:       newWSBucket(h.limits.MessagesPerSecond, h.limits.MessageBurst),
	}
}

// run serves the connection until it closes; it runs on the HTTP handler's goroutine, which is the reader.
func (c *wsConn) run(ctx context.Context) {
	log := c.h.log.With("session_id", c.sid, "client", c.client)
	if !c.h.register(c) {
		c.closeWith(wsCloseRestart, "node going down")
	} else {
		c.attach(ctx)
	}
	go c.writeLoop()
	c.readLoop(ctx)

	close(c.readerDone)
	_ = c.conn.Close()
	<-c.writerDone
	if c.pid != nil {
		if c.attached {
			c.h.engine.Detach(c.sid, c.pid)
		}
		c.h.engine.System().Root.Stop(c.pid)
	}
	c.h.unregister(c)

	c.mu.Lock()
	code, reason, aborted := c.closeCode, c.closeReason, c.aborted
	c.mu.Unlock()
	attrs := []any{"code", code, "reason", reason, "peer_code", c.peerCode, "messages", c.messages,
		"duration", time.Since(c.opened).Round(time.Millisecond)}
	switch {
	case aborted || code == wsClosePolicy || code == wsCloseTooLarge:
		log.InfoContext(ctx, "websocket closed", attrs...)
	default:
		log.DebugContext(ctx, "websocket closed", attrs...)
	}
}

// attach spawns the push receiver and subscribes it to the session. A session that has ended or is blocked is
// closed at once with its code.
func (c *wsConn) attach(ctx context.Context) {
	sys := c.h.engine.System()
	c.pid = sys.Root.Spawn(actor.PropsFromFunc(func(actx actor.Context) {
		if p, ok := actx.Message().(*enginepb.Push); ok {
			c.push(p)
		}
	}))
	actx, cancel := context.WithTimeout(ctx, c.h.reqTimeout)
	_, code, err := c.h.engine.Attach(actx, c.sid, c.pid)
	cancel()
	switch {
	case errors.Is(err, actors.ErrSessionNotFound), errors.Is(err, actors.ErrSessionEnded):
		c.closeWith(wsCloseEnded, "session ended")
	case errors.Is(err, actors.ErrSessionBlocked):
		c.closeWith(wsCloseBlocked, "session blocked")
	case err != nil:
		c.h.log.WarnContext(ctx, "websocket attach failed", "session_id", c.sid, "err", err)
		c.closeWith(wsCloseTryLater, "session unavailable; reconnect later")
	case code == wsCloseBlocked:
		c.closeWith(wsCloseBlocked, "session blocked")
	case code != 0:
		c.closeWith(wsCloseEnded, "session ended")
	default:
		c.attached = true
	}
}

// push runs on the push receiver actor: a decision taken without a client message, or a close.
func (c *wsConn) push(p *enginepb.Push) {
	if p.Decision != nil {
		o := c.h.getOut()
		o.b = wsAppendDecision(o.b, p.Decision)
		c.enqueue(o)
	}
	if p.CloseCode != 0 {
		reason := p.CloseReason
		if reason == "" {
			reason = "session closed"
		}
		c.closeSoon(int(p.CloseCode), reason)
	}
}

// readLoop reads frames until the connection fails or the peer answers our close.
func (c *wsConn) readLoop(ctx context.Context) {
	conn := c.conn
	conn.SetReadLimit(int64(c.h.limits.MaxFrameBytes))
	c.extendRead()
	conn.SetPongHandler(func(string) error { c.extendRead(); return nil })
	conn.SetPingHandler(func(data string) error {
		c.extendRead()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.h.limits.WriteTimeout))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil
		}
		return err
	})
	for {
		mt, r, err := conn.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		arrived := time.Now()
		if arrived.Sub(c.readExtended) >= c.h.limits.PingInterval/8 {
			// Not at every frame: moving the deadline updates a runtime timer, and a peer that sends is alive.
			c.readExtended = arrived
			c.extendRead()
		}
		if c.closing.Load() {
			continue // closing: the next NextReader discards the message
		}
		if !c.rate.allow(arrived) {
			c.closeWith(wsClosePolicy, "message rate over the limit")
			continue
		}
		// A pooled buffer, held only while the frame is handled (nothing decoded points into it), so that an idle
		// connection holds none.
		buf := c.h.getReadBuf()
		if _, err := buf.ReadFrom(r); err != nil {
			c.h.putReadBuf(buf)
			c.readFailed(err)
			return
		}
		c.messages++
		if mt != websocket.TextMessage {
			c.sendError("invalid_frame", "frames must be JSON text", 0, -1)
		} else {
			c.handle(ctx, buf.Bytes(), arrived)
		}
		c.h.putReadBuf(buf)
		c.writeAnswer()
	}
}

// readFailed records why reading stopped.
func (c *wsConn) readFailed(err error) {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// The library has sent the 1009 close frame already.
		c.markClosed(wsCloseTooLarge, "frame too large")
	case errors.As(err, &ce):
		c.peerCode = ce.Code
		c.markClosed(ce.Code, "closed by the peer")
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !c.closing.Load() {
			c.markClosed(websocket.CloseAbnormalClosure, "peer silent")
		} else {
			c.markClosed(websocket.CloseAbnormalClosure, "connection lost")
		}
	}
}

// extendRead moves the read deadline: a peer that sends nothing, not even a pong, for two ping intervals (less
// the eighth by which frames may leave it unmoved) is dropped. Once closing, the deadline is the close grace
// set by the writer and is left alone.
func (c *wsConn) extendRead() {
	c.mu.Lock()
	if c.closeCode == 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(2 * c.h.limits.PingInterval))
	}
	c.mu.Unlock()
}

func (c *wsConn) handle(ctx context.Context, data []byte, arrived time.Time) {
	if ferr := c.dec.decode(data, &c.frame); ferr != nil {
		c.sendError(ferr.code, ferr.msg, ferr.seq, -1)
		return
	}
	switch c.frame.typ {
	case wsFramePing:
		o := c.h.getOut()
		o.b = wsAppendPong(o.b)
		c.answer = append(c.answer, o)
	case wsFrameEvents:
		c.events(ctx, arrived)
	}
}

// events hands one decoded `events` message to the session and writes its answer: the errors of its bad events
// (the transport's and the engine's, by position), then its decisions in order, then its ack. Decisions come
// before the ack, so that a client holding the ack of seq N has every decision that messages up to N produced.
// A resent seq is acknowledged again without errors or decisions: it was applied the first time.
func (c *wsConn) events(ctx context.Context, arrived time.Time) {
	f := &c.frame
	m := c.msg
	m.Seq, m.Events, m.Rejected, m.ReceivedAtNs = f.seq, f.events, nil, arrived.UnixNano()

	c.mu.Lock()
	c.inFlight = true
	c.mu.Unlock()
	reply, err := c.h.engine.EventsWithin(ctx, c.sid, m, c.h.reqTimeout)
	if err != nil {
		// The engine may still read the message after its deadline: it is not reused.
		c.dec.abandon()
		c.msg = &enginepb.Events{}
		c.finishInFlight(0, "")
		switch {
		case errors.Is(err, actors.ErrSessionNotFound), errors.Is(err, actors.ErrSessionEnded):
			c.closeWith(wsCloseEnded, "session ended")
		case errors.Is(err, actors.ErrSessionBlocked):
			c.closeWith(wsCloseBlocked, "session blocked")
		default:
			c.h.log.WarnContext(ctx, "websocket events not applied", "session_id", c.sid, "seq", f.seq, "err", err)
			c.sendError("unavailable", "the session did not answer in time; send the message again", f.seq, -1)
		}
		return
	}
	// The session answered: it has finished with the message and its events, which the next decode reuses.
	m.Events = nil

	applied := reply.AckSeq > 0 && !reply.Duplicate
	switch {
	case applied:
		c.sendEventErrors(f, reply.Errors)
	case reply.AckSeq == 0:
		// Not applied (a seq gap, or a closed session): the engine's errors say why.
		for _, e := range reply.Errors {
			c.sendError(e.Code, e.Message, f.seq, -1)
		}
	}
	for _, d := range reply.Decisions {
		o := c.h.getOut()
		o.b = wsAppendDecision(o.b, d)
		c.answer = append(c.answer, o)
	}
	if reply.AckSeq > 0 {
		o := c.h.getOut()
		o.b = wsAppendAck(o.b, reply.AckSeq)
		c.answer = append(c.answer, o)
	}
	// Written before a close the engine asked for, so that they precede the close frame.
	c.writeAnswer()
	c.finishInFlight(int(reply.CloseCode), reply.CloseReason)
}

// sendEventErrors writes the errors of bad events in the client's order: the transport's (f.bad, by the client's
// index) merged with the engine's (by index among the events it was given, mapped back through f.index).
func (c *wsConn) sendEventErrors(f *wsFrame, engineErrs []*enginepb.EventError) {
	i, j := 0, 0
	for i < len(f.bad) || j < len(engineErrs) {
		idx := int32(-1)
		if j < len(engineErrs) {
			if k := engineErrs[j].Index; k >= 0 && int(k) < len(f.index) {
				idx = f.index[k]
			}
		}
		if i < len(f.bad) && (j >= len(engineErrs) || f.bad[i].index < idx) {
			c.sendError("invalid_event", f.bad[i].msg, f.seq, f.bad[i].index)
			i++
			continue
		}
		e := engineErrs[j]
		j++
		code := e.Code
		if code == "" {
			code = "invalid_event"
		}
		if idx >= 0 {
			c.sendError(code, wsEventMsg(idx, e.Message), f.seq, idx)
		} else {
			c.sendError(code, e.Message, f.seq, -1)
		}
	}
}

func (c *wsConn) sendError(code, msg string, seq int64, index int32) {
	o := c.h.getOut()
	o.b = wsAppendError(o.b, code, msg, seq, index)
	c.answer = append(c.answer, o)
}

// writeAnswer writes the frames answering the current message, in one corked burst. A client that does not read
// them within the write timeout is disconnected.
func (c *wsConn) writeAnswer() {
	if len(c.answer) == 0 {
		return
	}
	if !c.closing.Load() && !c.writeFrames(c.answer) {
		c.abort("write failed")
	}
	for i, o := range c.answer {
		c.h.putOut(o)
		c.answer[i] = nil
	}
	c.answer = c.answer[:0]
}

// finishInFlight ends an engine call and carries out the close it asked for, or one that was asked meanwhile.
func (c *wsConn) finishInFlight(code int, reason string) {
	c.mu.Lock()
	c.inFlight = false
	pc, pr := c.pendingCode, c.pendingReason
	c.pendingCode, c.pendingReason = 0, ""
	c.mu.Unlock()
	switch {
	case code != 0:
		c.closeWith(code, reason)
	case pc != 0:
		c.closeWith(pc, pr)
	}
}

// enqueue puts a pushed frame on the outgoing queue, without waiting. The queue is bounded: a client that leaves
// it full is disconnected, so that its frames never pile up in memory.
func (c *wsConn) enqueue(o *wsOut) {
	if c.closing.Load() {
		c.h.putOut(o)
		return
	}
	select {
	case c.out <- o:
		return
	default:
	}
	c.abort("outgoing queue full: client not reading")
	c.h.putOut(o)
}

// closeWith starts closing with code and reason (the first call wins).
func (c *wsConn) closeWith(code int, reason string) {
	c.mu.Lock()
	if c.closeCode != 0 {
		c.mu.Unlock()
		return
	}
	c.closeCode, c.closeReason = code, reason
	c.closing.Store(true)
	c.mu.Unlock()
	close(c.closingCh)
}

// closeSoon is closeWith, deferred while a message is with the engine, so that its decisions and ack go out
// before the close frame.
func (c *wsConn) closeSoon(code int, reason string) {
	c.mu.Lock()
	if c.inFlight {
		if c.pendingCode == 0 {
			c.pendingCode, c.pendingReason = code, reason
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.closeWith(code, reason)
}

// markClosed records a close that needs no close frame from us (the peer's, or one the library sent).
func (c *wsConn) markClosed(code int, reason string) {
	c.mu.Lock()
	first := c.closeCode == 0
	if first {
		c.closeCode, c.closeReason = code, reason
		c.closing.Store(true)
	}
	c.mu.Unlock()
	if first {
		close(c.closingCh)
	}
}

// abort cuts the connection without a close handshake (a client that does not read cannot receive one).
func (c *wsConn) abort(reason string) {
	c.mu.Lock()
	c.aborted = true
	c.mu.Unlock()
	c.markClosed(websocket.CloseAbnormalClosure, reason)
	_ = c.conn.Close()
}

// writeLoop is the only writer of data frames. It also sends the keepalive pings, re-verifies the session token
// on each of them (a revoked login closes with 4001 within a ping interval) and closes with 4001 when the token
// expires.
func (c *wsConn) writeLoop() {
	defer close(c.writerDone)
	lim := c.h.limits
	ping := time.NewTicker(lim.PingInterval)
	defer ping.Stop()
	expiry := time.NewTimer(time.Until(c.expires))
	defer expiry.Stop()
	for {
		select {
		case o := <-c.out:
			if !c.writeBurst(o) {
				c.abort("write failed")
				<-c.readerDone
				return
			}
		case <-ping.C:
			if !c.ping() {
				c.abort("ping failed")
				<-c.readerDone
				return
			}
			c.reverify()
		case <-expiry.C:
			c.closeSoon(wsCloseUnauthorized, "session token expired")
		case <-c.closingCh:
			c.finishClose()
			<-c.readerDone
			return
		case <-c.readerDone:
			return
		}
	}
}

// ping sends a keepalive ping, unless data frames are being written: the ping would reset the connection's
// write deadline under them (and their own deadline already cuts a client that does not read them).
func (c *wsConn) ping() bool {
	if !c.wmu.TryLock() {
		return true
	}
	defer c.wmu.Unlock()
	if c.closeSent {
		return true
	}
	return c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.limits.WriteTimeout)) == nil
}

// wsBurst bounds the queued frames gathered into one socket write.
const wsBurst = 64

// writeBurst writes o and whatever is queued behind it (up to wsBurst frames) in one burst.
func (c *wsConn) writeBurst(o *wsOut) bool {
	var burst [wsBurst]*wsOut
	frames := append(burst[:0], o)
	for len(frames) < wsBurst {
		select {
		case next := <-c.out:
			frames = append(frames, next)
			continue
		default:
		}
		break
	}
	ok := c.writeFrames(frames)
	for _, o := range frames {
		c.h.putOut(o)
	}
	return ok
}

// writeFrames writes frames in order under one write deadline, with the connection corked so that they reach
// the socket in one system call. After the close frame it writes nothing (and reports success: the close is
// under way).
func (c *wsConn) writeFrames(frames []*wsOut) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return true
	}
	// The deadline moves only once a quarter of the write timeout has passed: a write is still cut within the
	// timeout, and most bursts leave the connection's deadline (a runtime timer) alone.
	if now := time.Now(); c.writeDeadline.Sub(now) < c.h.limits.WriteTimeout*3/4 {
		c.writeDeadline = now.Add(c.h.limits.WriteTimeout)
		_ = c.conn.SetWriteDeadline(c.writeDeadline)
	}
	ck, corkable := c.conn.UnderlyingConn().(corker)
	if corkable {
		ck.cork()
	}
	ok := true
	for _, o := range frames {
		if ok = c.conn.WriteMessage(websocket.TextMessage, o.b) == nil; !ok {
			break
		}
	}
	if corkable {
		if err := ck.uncork(); err != nil {
			return false
		}
	}
	return ok
}

// finishClose writes what is queued, then the close frame, and gives the peer wsCloseGrace to answer it.
func (c *wsConn) finishClose() {
	c.mu.Lock()
	code, reason, aborted := c.closeCode, c.closeReason, c.aborted
	c.mu.Unlock()
	if aborted {
		return
	}
	for drained := false; !drained; {
		select {
		case o := <-c.out:
			if !c.writeBurst(o) {
				return
			}
		default:
			drained = true
		}
	}
	c.wmu.Lock()
	c.closeSent = true
	c.wmu.Unlock()
	if code != websocket.CloseAbnormalClosure {
		// ErrCloseSent when the library or the peer's close already did it.
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
			time.Now().Add(c.h.limits.WriteTimeout))
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(wsCloseGrace))
}

// reverify checks that the session token still holds (its login not revoked). A failure to ask (the database
// is down) keeps the connection: the token was valid, and the expiry timer still runs.
func (c *wsConn) reverify() {
	ctx, cancel := context.WithTimeout(context.Background(), wsVerifyTimeout)
	defer cancel()
	_, err := c.h.auth.VerifySession(ctx, c.token)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrTokenExpired):
		c.closeSoon(wsCloseUnauthorized, "session token expired")
	case errors.Is(err, auth.ErrTokenRevoked), errors.Is(err, auth.ErrUnauthorized):
		c.closeSoon(wsCloseUnauthorized, "session token revoked")
	default:
		c.h.log.Debug("websocket token re-verification failed; keeping the connection", "session_id", c.sid, "err", err)
	}
}

func (h *wsHub) getReadBuf() *bytes.Buffer {
	buf := h.reads.Get().(*bytes.Buffer)
	buf.Reset()
	return buf
}

func (h *wsHub) putReadBuf(buf *bytes.Buffer) {
	if buf.Cap() > 2*h.limits.MaxFrameBytes {
		return
	}
	h.reads.Put(buf)
}

func (h *wsHub) getOut() *wsOut {
	o := h.outs.Get().(*wsOut)
	o.b = o.b[:0]
	return o
}

func (h *wsHub) putOut(o *wsOut) {
	if cap(o.b) > wsKeepOutBuf {
		return
	}
	h.outs.Put(o)
}

// wsBucket is a token bucket: rate messages per second, bursts of up to burst.
type wsBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newWSBucket(rate float64, burst int) wsBucket {
	return wsBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *wsBucket) allow(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
