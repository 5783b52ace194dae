package actors

import (
	"context"
	"sync/atomic"
	"time"
)

// Health tracks whether Postgres answers, from the write-behind's results and a periodic ping, so the decision
// path can switch to degraded mode without a database round trip of its own.
type Health struct {
	pgDown atomic.Bool
	since  atomic.Int64
}

// PostgresUp reports whether the last contact with Postgres succeeded.
func (h *Health) PostgresUp() bool { return !h.pgDown.Load() }

// setPostgres records the outcome of a contact with Postgres.
func (h *Health) setPostgres(up bool) {
	if h.pgDown.Swap(!up) == up { // the state changed
		h.since.Store(time.Now().UnixNano())
	}
}

// watchPostgres pings every interval until ctx ends.
func (h *Health) watchPostgres(ctx context.Context, interval time.Duration, ping func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, interval)
			err := ping(pctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			h.setPostgres(err == nil)
		}
	}
}
