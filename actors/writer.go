package actors

import (
	"context"
	"errors"
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
	spare     []persistence.Decision // the last written batch's array, emptied, for the next one
	snapshots map[string]persistence.Snapshot
	dropped   int64
	invalid   int64 // rows the store refused (never retried)
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

// writerKickAt is the queue length that starts a flush before the tick. Postgres's cost is mostly per row and
// per round trip, and a session's decisions of one flush share a row: at full load, flushing on the tick (a
// chunk of some 60 decisions per busy session) costs Postgres a fraction of flushing every few hundred
// decisions (chunks of under 10). The bound only keeps a burst from growing one batch without limit.
const writerKickAt = 8192

// writerKeepArray is the largest batch array kept for the next batch.
const writerKeepArray = 4 * writerKickAt

// Add queues decisions. It never blocks on the database.
func (w *Writer) Add(ds ...persistence.Decision) {
	w.mu.Lock()
	w.decisions = append(w.decisions, ds...)
	if over := len(w.decisions) - w.maxPending; over > 0 {
		// Only a long outage gets here: keep the newest, count what was dropped.
		w.decisions = append(w.decisions[:0], w.decisions[over:]...)
		w.dropped += int64(over)
	}
	n := len(w.decisions)
	w.mu.Unlock()
	if n >= writerKickAt {
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
	// The next batch fills the array the last one was written from: at full load, growing a fresh array each
	// flush was a fifth of the node's allocated bytes.
	w.decisions, w.spare = w.spare, nil
	w.snapshots = make(map[string]persistence.Snapshot)
	w.mu.Unlock()
	if len(b.Decisions) == 0 && len(b.Snapshots) == 0 {
		return nil
	}
	res, err := w.store.Write(ctx, b)
	if errors.Is(err, persistence.ErrInvalid) {
		// A row the store refuses would be refused at every retry and hold back everything behind it (and no
		// outage is to blame): it is dropped, loudly, and the rest goes now.
		b = w.dropInvalid(b)
		res, err = w.store.Write(ctx, b)
	}
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
	if cap(b.Decisions) <= writerKeepArray {
		clear(b.Decisions) // the decisions' strings and vectors are garbage now
		w.mu.Lock()
		w.spare = b.Decisions[:0]
		w.mu.Unlock()
	}
	for _, id := range res.Stale {
		if w.onStale != nil {
			w.onStale(id)
		}
	}
	return nil
}

// dropInvalid returns b without the rows the store refuses, logging each.
func (w *Writer) dropInvalid(b persistence.WriteBatch) persistence.WriteBatch {
	ds := b.Decisions[:0:0]
	for i := range b.Decisions {
		if err := b.Decisions[i].Validate(); err != nil {
			w.log.Error("write-behind dropped a decision the store refuses", "session", b.Decisions[i].SessionID,
				"seq", b.Decisions[i].Seq, "err", err)
			continue
		}
		ds = append(ds, b.Decisions[i])
	}
	var ss []persistence.Snapshot
	for i := range b.Snapshots {
		if err := b.Snapshots[i].Validate(); err != nil {
			w.log.Error("write-behind dropped a snapshot the store refuses", "session", b.Snapshots[i].SessionID,
				"version", b.Snapshots[i].Version, "err", err)
			continue
		}
		ss = append(ss, b.Snapshots[i])
	}
	w.mu.Lock()
	w.invalid += int64(len(b.Decisions) - len(ds) + len(b.Snapshots) - len(ss))
	w.mu.Unlock()
	return persistence.WriteBatch{Decisions: ds, Snapshots: ss}
}

// Invalid returns how many rows were dropped because the store refused them.
func (w *Writer) Invalid() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.invalid
}

// Pending returns how many decisions wait to be written.
func (w *Writer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.decisions)
}
