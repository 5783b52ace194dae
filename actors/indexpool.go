package actors

import (
	"container/list"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
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

// IndexPool is a pool of local actors that own FAISS indexes, each index owned by exactly one actor so that no
// two goroutines touch it at once. An index lives in the actor its key hashes to. Memory stays bounded: each
// actor keeps at most its share of index.max_indexes, evicting the least recently used, and drops indexes idle
// for index.idle_evict.
type IndexPool struct {
	e    *Engine
	cfg  config.Index
	pids []*actor.PID
	stop func()
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
	p.pids = make([]*actor.PID, p.cfg.PoolSize)
	for i := range p.pids {
		props := actor.PropsFromProducer(func() actor.Actor {
			return &poolActor{e: p.e, capacity: per, idle: p.cfg.IdleEvict, entries: make(map[string]*list.Element), lru: list.New()}
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

func (p *IndexPool) pidFor(key string) *actor.PID {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return p.pids[int(h.Sum32())%len(p.pids)]
}

// poolTimeout bounds one index operation; a search on a per-user index takes microseconds.
const poolTimeout = time.Second

// poolWaits lends answer channels with their timers; one that timed out is dropped rather than lent again (a
// late answer may still arrive on it).
var poolWaits = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &poolWait{ch: make(chan poolResp, 1), t: t}
}}

type poolWait struct {
	ch chan poolResp
	t  *time.Timer
}

func (p *IndexPool) do(r *poolReq) (int, error) {
	w := poolWaits.Get().(*poolWait)
	r.reply = w.ch
	p.e.system.Root.Send(p.pidFor(r.key), r)
	w.t.Reset(poolTimeout)
	select {
	case resp := <-w.ch:
		w.t.Stop()
		poolWaits.Put(w)
		return resp.n, resp.err
	case <-w.t.C:
		return 0, fmt.Errorf("index %s: no answer within %s: %w", r.key, poolTimeout, ErrUnavailable)
	}
}

// Handle returns the scoring.Index view of the pool's index under key (created on first write, of dim values).
func (p *IndexPool) Handle(key string, dim int) scoring.Index {
	return poolIndex{p: p, key: key, dim: dim}
}

// Drop frees the index under key.
func (p *IndexPool) Drop(key string) {
	p.e.system.Root.Send(p.pidFor(key), &poolReq{op: opDrop, key: key})
}

// poolIndex is a scoring.Index whose every call is a message to the owning actor.
type poolIndex struct {
	p   *IndexPool
	key string
	dim int
}

var _ scoring.Index = poolIndex{}

func (x poolIndex) SearchInto(q []float32, k int, dist []float32, labels []int64) error {
	_, err := x.p.do(&poolReq{op: opSearch, key: x.key, dim: x.dim, vecs: q, k: k, dist: dist, labels: labels})
	return err
}

func (x poolIndex) Len() int {
	n, err := x.p.do(&poolReq{op: opLen, key: x.key})
	if err != nil {
		return 0
	}
	return n
}

func (x poolIndex) AddWithIDs(vecs []float32, ids []int64) error {
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

type poolEntry struct {
	key  string
	idx  *index.Index
	used time.Time
}

// poolActor owns its share of the indexes.
type poolActor struct {
	e        *Engine
	capacity int
	idle     time.Duration
	entries  map[string]*list.Element
	lru      *list.List // front = most recently used
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
	el, ok := a.entries[m.key]
	if ok && m.op == opReset && el.Value.(*poolEntry).idx.Dim() != m.dim {
		// The owner rebuilds under the same key with another length (its field enrolled again, with a longer
		// or shorter secret): emptying the old index would keep its length, and every add would fail.
		a.drop(m.key)
		ok = false
	}
	if !ok {
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
		el = a.lru.PushFront(&poolEntry{key: m.key, idx: idx})
		a.e.stats.indexes.Add(1)
		a.entries[m.key] = el
		a.evictOver()
	}
	ent := el.Value.(*poolEntry)
	ent.used = time.Now()
	a.lru.MoveToFront(el)
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

func (a *poolActor) drop(key string) {
	if el, ok := a.entries[key]; ok {
		_ = el.Value.(*poolEntry).idx.Close()
		a.e.stats.indexes.Add(-1)
		a.lru.Remove(el)
		delete(a.entries, key)
	}
}

func (a *poolActor) evictOver() {
	for a.lru.Len() > a.capacity {
		a.drop(a.lru.Back().Value.(*poolEntry).key)
	}
}

func (a *poolActor) evictIdle() {
	cutoff := time.Now().Add(-a.idle)
	for el := a.lru.Back(); el != nil; {
		ent := el.Value.(*poolEntry)
		if ent.used.After(cutoff) {
			return
		}
		prev := el.Prev()
		a.drop(ent.key)
		el = prev
	}
}

func (a *poolActor) closeAll() {
	for key := range a.entries {
		a.drop(key)
	}
}
