package transport

import (
	"net"
	"sync"
	"time"
)

// CorkListener wraps a listener so that the WebSocket writer can cork its connections: while corked, writes
// gather in a buffer and reach the socket in one system call when uncorked. A message's error frames, decisions
// and ack (and everything else queued behind them) then cost one write instead of one each — the largest
// system-call cost of the event path. Uncorked, a write goes straight through.
func CorkListener(ln net.Listener) net.Listener { return corkListener{ln} }

type corkListener struct{ net.Listener }

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &corkConn{Conn: c}, nil
}

// corker is what the WebSocket writer looks for on its connection.
type corker interface {
	cork()
	uncork() error
}

// corkBufs lends the gather buffers, so that an idle connection holds none.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// corkFlushAt flushes a corked buffer that grew this large without waiting for the uncork.
const corkFlushAt = 64 << 10

type corkConn struct {
	net.Conn
	mu     sync.Mutex
	buf    *[]byte // non-nil while corked
	failed error

	dlMu sync.Mutex
	wdl  time.Time // the write deadline last set
}

// SetWriteDeadline sets the write deadline unless it is set to t already. The WebSocket library sets it again
// before every frame it writes, each time a runtime timer update; a burst's frames share one deadline.
func (c *corkConn) SetWriteDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if t.Equal(c.wdl) {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	c.wdl = t
	return nil
}

// SetDeadline sets both deadlines (and forgets the write deadline it knew).
func (c *corkConn) SetDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if err := c.Conn.SetDeadline(t); err != nil {
		c.wdl = time.Time{}
		return err
	}
	c.wdl = t
	return nil
}

var _ corker = (*corkConn)(nil)

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(p)
	}
	if c.failed != nil {
		return 0, c.failed
	}
	*c.buf = append(*c.buf, p...)
	if len(*c.buf) >= corkFlushAt {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *corkConn) flushLocked() error {
	b := *c.buf
	*c.buf = b[:0]
	for len(b) > 0 {
		n, err := c.Conn.Write(b)
		if err != nil {
			c.failed = err
			return err
		}
		b = b[n:]
	}
	return nil
}

func (c *corkConn) cork() {
	c.mu.Lock()
	if c.buf == nil {
		c.buf = corkBufs.Get().(*[]byte)
		c.failed = nil
	}
	c.mu.Unlock()
}

func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	err := c.flushLocked()
	if err == nil {
		err = c.failed
	}
	b := c.buf
	c.buf = nil
	if cap(*b) <= corkFlushAt*2 {
		*b = (*b)[:0]
		corkBufs.Put(b)
	}
	return err
}
