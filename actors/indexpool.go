package actors

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/index"
	"github.com/behaviorauth/engine/scoring"
)

// KindIndex names the index actors in fault hooks (they are local actors, not a cluster kind).
const KindIndex = "index"

// ErrIndexMissing: the pool holds no index under that key (never built, evicted, or lost in a crash); the owner
// rebuilds it from its templates.
var ErrIndexMissing = errors.New("actors: index not loaded")

// IndexPool is a pool of local actors that own FAISS indexes. An index lives in the actor its key hashes to,
// which alone creates, rebuilds and frees it. Memory stays bounded: each actor keeps at most its share of
// index.max_indexes, evicting the least recently used, and drops indexes idle for index.idle_evict.
//
// Searches, adds and counts on an index that exists do not go through the actor's mailbox: the actor publishes
// its indexes in its shard, each behind its own lock, and a caller that finds the index there uses it under that
// lock. A message per search (a mailbox run and two goroutine switches) cost about as much as the search. What
// changes an index's life (creation by Reset, rebuild, eviction, Drop, a crash) stays with the actor, and a
// caller that finds no index falls back to a message, whose answer (ErrIndexMissing) makes the owner rebuild it.
type IndexPool struct {
	e      *Engine
	cfg    config.Index
	pids   []*actor.PID
	shards []*poolShard
	// direct is false when a fault hook is installed: faults are injected on the actors' messages, so tests of
	// an index actor's crash send every call through its mailbox.
	direct bool
	stop   func()
}

// poolShard is one actor's indexes, readable by callers; only the actor adds or removes entries.
type poolShard struct {
	mu      sync.RWMutex
	entries map[string]*poolEntry
}

func (s *poolShard) get(key string) *poolEntry {
	s.mu.RLock()
	ent := s.entries[key]
	s.mu.RUnlock()
	return ent
}

// poolEntry is one index. idx is nil once the owner freed it; every call into idx holds mu.
type poolEntry struct {
	key  string
	mu   sync.Mutex
	idx  *index.Index
	used atomic.Int64 // unix nanoseconds of the last use
}

type poolOp uint8

const (
	opSearch poolOp = iota
	opAdd
	opRemove
	opReset
	opLen
	opDrop
)

// poolReq is a local message (never crosses members): slices are shared, so a search writes its results
// straight into the caller's buffers.
type poolReq struct {
	op     poolOp
	key    string
	dim    int
	vecs   []float32
	ids    []int64
	k      int
	dist   []float32
	labels []int64
	// reply receives the answer: a channel rather than a future, because the pool is local and a future
	// registers a process per call, which cost more than the search itself.
	reply chan poolResp
}

type poolResp struct {
	n   int
	err error
}

type evictTick struct{}

func newIndexPool(e *Engine, cfg config.Index) *IndexPool { return &IndexPool{e: e, cfg: cfg} }

func (p *IndexPool) start() {
	per := max(p.cfg.MaxIndexes/p.cfg.PoolSize, 1)
	p.direct = p.e.faults == nil
	p.pids = make([]*actor.PID, p.cfg.PoolSize)
	p.shards = make([]*poolShard, p.cfg.PoolSize)
	for i := range p.pids {
		shard := &poolShard{entries: make(map[string]*poolEntry)}
		p.shards[i] = shard
		props := actor.PropsFromProducer(func() actor.Actor {
			return &poolActor{e: p.e, capacity: per, idle: p.cfg.IdleEvict, shard: shard}
		}, actor.WithDispatcher(p.e.dispatcher))
		p.pids[i] = p.e.system.Root.Spawn(props)
	}
	t := time.NewTicker(max(p.cfg.IdleEvict/4, time.Second))
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				for _, pid := range p.pids {
					p.e.system.Root.Send(pid, evictTick{})
				}
			case <-done:
				return
			}
		}
	}()
	p.stop = func() { t.Stop(); close(done) }
}

func (p *IndexPool) stopAll() {
	for _, pid := range p.pids {
		_ = p.e.system.Root.StopFuture(pid).Wait()
	}
}

func (p *IndexPool) shutdown() {
	if p.stop != nil {
		p.stop()
		p.stopAll()
	}
}

// slot is the actor (and shard) key lives in: FNV-1a of the key, without allocating.
func (p *IndexPool) slot(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h) % len(p.pids)
}

func (p *IndexPool) pidFor(key string) *actor.PID { return p.pids[p.slot(key)] }

// directly runs op on the index under key without a message, if the index exists; ok is false otherwise.
func (p *IndexPool) directly(key string, op func(*index.Index) (int, error)) (n int, err error, ok bool) {
	if !p.direct {
		return 0, nil, false
	}
	ent := p.shards[p.slot(key)].get(key)
	if ent == nil {
		return 0, nil, false
	}
	ent.mu.Lock()
	if ent.idx == nil {
		ent.mu.Unlock()
		return 0, nil, false
	}
	n, err = op(ent.idx)
	ent.mu.Unlock()
	ent.used.Store(time.Now().UnixNano())
	return n, err, true
}

// poolTimeout bounds one index operation; a search on a per-user index takes microseconds.
const poolTimeout = time.Second

// poolWaits lends answer channels with their timers; one that timed out is dropped rather than lent again (a
// late answer may still arrive on it).
var poolWaits = sync.Pool{New: func() any { return newAwaiter[poolResp]() }}

func (p *IndexPool) do(r *poolReq) (int, error) {
	w := poolWaits.Get().(*awaiter[poolResp])
	r.reply = w.ch
	p.e.system.Root.Send(p.pidFor(r.key), r)
	resp, ok := w.await(poolTimeout)
	if !ok {
		return 0, fmt.Errorf("index %s: no answer within %s: %w", r.key, poolTimeout, ErrUnavailable)
	}
	poolWaits.Put(w)
	return resp.n, resp.err
}

// Handle returns the scoring.Index view of the pool's index under key (created on first write, of dim values).
func (p *IndexPool) Handle(key string, dim int) scoring.Index {
	return poolIndex{p: p, key: key, dim: dim}
}

// Drop frees the index under key. It is done when Drop returns, so the caller's next call finds the index
// missing (through the owner's mailbox when calls take that way, which keeps them in order too).
func (p *IndexPool) Drop(key string) {
	if p.direct {
		p.shards[p.slot(key)].drop(key, &p.e.stats)
		return
	}
	p.e.system.Root.Send(p.pidFor(key), &poolReq{op: opDrop, key: key})
}

// poolIndex is a scoring.Index over the pool's index under key: searches, adds and counts go straight to an
// existing index, everything else is a message to the owning actor.
type poolIndex struct {
	p   *IndexPool
	key string
	dim int
}

var _ scoring.Index = poolIndex{}

func (x poolIndex) SearchInto(q []float32, k int, dist []float32, labels []int64) error {
	if _, err, ok := x.p.directly(x.key, func(idx *index.Index) (int, error) {
		return 0, idx.SearchInto(q, k, dist, labels)
	}); ok {
		return err
	}
	_, err := x.p.do(&poolReq{op: opSearch, key: x.key, dim: x.dim, vecs: q, k: k, dist: dist, labels: labels})
	return err
}

func (x poolIndex) Len() int {
	if n, err, ok := x.p.directly(x.key, func(idx *index.Index) (int, error) { return idx.Len(), nil }); ok {
		if err != nil {
			return 0
		}
		return n
	}
	n, err := x.p.do(&poolReq{op: opLen, key: x.key})
	if err != nil {
		return 0
	}
	return n
}

func (x poolIndex) AddWithIDs(vecs []float32, ids []int64) error {
	if _, err, ok := x.p.directly(x.key, func(idx *index.Index) (int, error) {
		return 0, idx.AddWithIDs(vecs, ids)
	}); ok {
		return err
	}
	_, err := x.p.do(&poolReq{op: opAdd, key: x.key, dim: x.dim, vecs: vecs, ids: ids})
	return err
}

func (x poolIndex) RemoveIDs(ids []int64) (int, error) {
	return x.p.do(&poolReq{op: opRemove, key: x.key, ids: ids})
}

func (x poolIndex) Reset() error {
	_, err := x.p.do(&poolReq{op: opReset, key: x.key, dim: x.dim})
	return err
}

// poolActor owns its share of the indexes (its shard).
type poolActor struct {
	e        *Engine
	capacity int
	idle     time.Duration
	shard    *poolShard
}

func (a *poolActor) Receive(ctx actor.Context) {
	if a.e.faults != nil {
		a.e.faults(KindIndex, ctx.Message())
	}
	switch m := ctx.Message().(type) {
	case *poolReq:
		n, err := a.handle(m)
		if m.reply != nil {
			m.reply <- poolResp{n: n, err: err}
		} else if ctx.Sender() != nil {
			ctx.Respond(&poolResp{n: n, err: err})
		}
	case evictTick:
		a.evictIdle()
	case *actor.Restarting, *actor.Stopping:
		// A crash or a stop loses the indexes: free their C memory; owners rebuild them from their templates.
		a.closeAll()
	}
}

func (a *poolActor) handle(m *poolReq) (int, error) {
	if m.op == opDrop {
		a.drop(m.key)
		return 0, nil
	}
	ent := a.shard.get(m.key)
	if ent != nil && m.op == opReset && ent.dim() != m.dim {
		// The owner rebuilds under the same key with another length (its field enrolled again, with a longer
		// or shorter secret): emptying the old index would keep its length, and every add would fail.
		a.drop(m.key)
		ent = nil
	}
	if ent == nil {
		// Only a Reset (the start of a build from the templates) creates an index: an add to an index that was
		// evicted would otherwise leave it holding a fraction of the vectors, and searches would be wrong.
		switch m.op {
		case opLen:
			return 0, nil
		case opSearch, opRemove, opAdd:
			return 0, ErrIndexMissing
		}
		idx, err := index.NewIDMap(m.dim, index.L2)
		if err != nil {
			return 0, err
		}
		ent = &poolEntry{key: m.key, idx: idx}
		ent.used.Store(time.Now().UnixNano())
		a.evictOver(a.capacity - 1)
		a.shard.mu.Lock()
		a.shard.entries[m.key] = ent
		a.shard.mu.Unlock()
		a.e.stats.indexes.Add(1)
	}
	ent.used.Store(time.Now().UnixNano())
	ent.mu.Lock()
	defer ent.mu.Unlock()
	switch m.op {
	case opSearch:
		return 0, ent.idx.SearchInto(m.vecs, m.k, m.dist, m.labels)
	case opAdd:
		return 0, ent.idx.AddWithIDs(m.vecs, m.ids)
	case opRemove:
		return ent.idx.RemoveIDs(m.ids)
	case opReset:
		return 0, ent.idx.Reset()
	case opLen:
		return ent.idx.Len(), nil
	}
	return 0, fmt.Errorf("index pool: unknown op %d", m.op)
}

// dim is the index's vector length (0 once freed).
func (ent *poolEntry) dim() int {
	ent.mu.Lock()
	defer ent.mu.Unlock()
	if ent.idx == nil {
		return 0
	}
	return ent.idx.Dim()
}

func (a *poolActor) drop(key string) { a.shard.drop(key, &a.e.stats) }

// drop unpublishes the index under key and frees it once no caller is inside it. The shard's map and each
// entry's lock are all the state there is, so the owner and Drop's callers may both drop.
func (s *poolShard) drop(key string, st *counters) {
	s.mu.Lock()
	ent, ok := s.entries[key]
	delete(s.entries, key)
	s.mu.Unlock()
	if !ok {
		return
	}
	ent.mu.Lock()
	_ = ent.idx.Close()
	ent.idx = nil
	ent.mu.Unlock()
	st.indexes.Add(-1)
}

// evictOver drops the least recently used indexes until at most n remain. Uses are stamped by callers without
// the actor, so the order is read from the stamps when it is needed (rarely: at capacity) rather than kept.
func (a *poolActor) evictOver(n int) {
	for {
		a.shard.mu.RLock()
		over := len(a.shard.entries) > n
		oldest, at := "", int64(0)
		if over {
			for key, ent := range a.shard.entries {
				if u := ent.used.Load(); oldest == "" || u < at {
					oldest, at = key, u
				}
			}
		}
		a.shard.mu.RUnlock()
		if !over {
			return
		}
		a.drop(oldest)
	}
}

func (a *poolActor) evictIdle() {
	cutoff := time.Now().Add(-a.idle).UnixNano()
	var idle []string
	a.shard.mu.RLock()
	for key, ent := range a.shard.entries {
		if ent.used.Load() < cutoff {
			idle = append(idle, key)
		}
	}
	a.shard.mu.RUnlock()
	for _, key := range idle {
		a.drop(key)
	}
}

func (a *poolActor) closeAll() {
	a.shard.mu.RLock()
	keys := make([]string, 0, len(a.shard.entries))
	for key := range a.shard.entries {
		keys = append(keys, key)
	}
	a.shard.mu.RUnlock()
	for _, key := range keys {
		a.drop(key)
	}
}
