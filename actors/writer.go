package actors

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/behaviorauth/engine/persistence"
)

// Writer is the write-behind of the decision path: sessions hand it decisions (with their sample vectors) and
// snapshots and go on; it writes them to Postgres in batches, one round trip each. While Postgres is down it keeps
// what it has (bounded by maxPending decisions) and retries, so that nothing acknowledged is lost to an outage.
type Writer struct {
	store      *persistence.Sessions
	health     *Health
	log        *slog.Logger
	flushEvery time.Duration
	maxPending int
	onStale    func(sessionID string)

	mu        sync.Mutex
	decisions []persistence.Decision
	snapshots map[string]persistence.Snapshot
	dropped   int64
	kick      chan struct{}
	flushMu   sync.Mutex // one batch in flight at a time
}

// NewWriter returns a writer; call Run to start flushing.
func NewWriter(store *persistence.Sessions, health *Health, log *slog.Logger, flushEvery time.Duration, maxPending int) *Writer {
	return &Writer{
		store: store, health: health, log: log, flushEvery: flushEvery, maxPending: maxPending,
		snapshots: make(map[string]persistence.Snapshot), kick: make(chan struct{}, 1),
	}
}

// Add queues decisions. It never blocks on the database.
func (w *Writer) Add(ds []persistence.Decision) {
	w.mu.Lock()
	w.decisions = append(w.decisions, ds...)
	if over := len(w.decisions) - w.maxPending; over > 0 {
		// Only a long outage gets here: keep the newest, count what was dropped.
		w.decisions = append(w.decisions[:0], w.decisions[over:]...)
		w.dropped += int64(over)
	}
	n := len(w.decisions)
	w.mu.Unlock()
	if n >= 256 {
		w.signal()
	}
}

// Snapshot queues a session snapshot; a newer one of the same session replaces an unwritten older one.
func (w *Writer) Snapshot(s persistence.Snapshot) {
	w.mu.Lock()
	if old, ok := w.snapshots[s.SessionID]; !ok || old.Version < s.Version {
		w.snapshots[s.SessionID] = s
	}
	w.mu.Unlock()
}

func (w *Writer) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run flushes every flushEvery (or sooner when much is queued) until ctx ends, then flushes once more within
// a short deadline.
func (w *Writer) Run(ctx context.Context) {
	t := time.NewTicker(w.flushEvery)
	defer t.Stop()
	backoff := w.flushEvery
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := w.Flush(fctx); err != nil {
				w.log.Error("final write-behind flush failed", "err", err)
			}
			cancel()
			return
		case <-t.C:
		case <-w.kick:
		}
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.Flush(fctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			// Back off while Postgres is away, up to 2s, so an outage is not hammered.
			backoff = min(backoff*2, 2*time.Second)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			continue
		}
		backoff = w.flushEvery
	}
}

// Flush writes everything queued now. On failure the batch goes back to the front of the queue.
func (w *Writer) Flush(ctx context.Context) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	b := persistence.WriteBatch{Decisions: w.decisions}
	for _, s := range w.snapshots {
		b.Snapshots = append(b.Snapshots, s)
	}
	w.decisions = nil
	w.snapshots = make(map[string]persistence.Snapshot)
	w.mu.Unlock()
	if len(b.Decisions) == 0 && len(b.Snapshots) == 0 {
		return nil
	}
	res, err := w.store.Write(ctx, b)
	if err != nil {
		w.health.setPostgres(false)
		w.mu.Lock()
		w.decisions = append(b.Decisions, w.decisions...)
		for _, s := range b.Snapshots {
			if old, ok := w.snapshots[s.SessionID]; !ok || old.Version < s.Version {
				w.snapshots[s.SessionID] = s
			}
		}
		w.mu.Unlock()
		w.log.Warn("write-behind failed; will retry", "decisions", len(b.Decisions), "snapshots", len(b.Snapshots), "err", err)
		return err
	}
	w.health.setPostgres(true)
	for _, id := range res.Stale {
		if w.onStale != nil {
			w.onStale(id)
		}
	}
	return nil
}

// Pending returns how many decisions wait to be written.
func (w *Writer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.decisions)
}
