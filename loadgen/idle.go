package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Idle opens cfg.Users sessions with a WebSocket each and holds them without traffic until ctx ends: what
// measures the memory a live but quiet session costs the node. ready is called once all are open.
func Idle(ctx context.Context, cfg Config, ready func(open int)) error {
	cfg.Duration = time.Hour // unused, but defaults() wants it
	if err := cfg.defaults(); err != nil {
		return err
	}
	sessions, err := setup(ctx, cfg, newClient(cfg.BaseURL))
	if err != nil {
		return err
	}
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 256, WriteBufferSize: 256}
	conns := make([]*websocket.Conn, len(sessions))
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, cfg.Setup)
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			hdr := http.Header{"Authorization": {"Bearer " + s.SessionToken}}
			c, _, err := dialer.DialContext(ctx, wsURL(cfg.BaseURL, s.SessionID, cfg.Echo), hdr)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("loadgen: idle dial %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			conns[i] = c
			// Answer the server's pings (gorilla does it while reading) and notice a close.
			go func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	if firstErr != nil {
		return firstErr
	}
	if ready != nil {
		ready(len(conns))
	}
	<-ctx.Done()
	return nil
}
