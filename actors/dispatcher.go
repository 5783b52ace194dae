package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// workerDispatcher runs actor mailboxes on reused goroutines. Proto.Actor's default dispatcher starts a new
// goroutine each time an idle mailbox gets a message; on the event path that is several times per frame, and
// every new goroutine grows its small initial stack through the same deep call chain again (copying it each
// time: about a tenth of the node's CPU under load). A worker that finishes a mailbox waits for the next one
// instead, with its stack already grown.
//
// A worker is never required for progress: when none is idle, Schedule starts a new one, so a mailbox that blocks
// (a session waiting on its profile) can never starve another. At most maxIdle workers wait; any worker beyond
// that exits when it finishes, so a burst of activity (10,000 sessions snapshotting at once) leaves no lasting
// goroutines or stacks behind.
type workerDispatcher struct {
	throughput int
	maxIdle    int32
	work       chan func() // unbuffered: a send succeeds only when a worker is waiting for it
	done       chan struct{}
	stopped    atomic.Bool
	idle       atomic.Int32
}

var _ actor.Dispatcher = (*workerDispatcher)(nil)

// newWorkerDispatcher returns a dispatcher that processes up to throughput messages per mailbox run and keeps
// at most maxIdle goroutines waiting for work.
func newWorkerDispatcher(throughput, maxIdle int) *workerDispatcher {
	return &workerDispatcher{throughput: throughput, maxIdle: int32(maxIdle), work: make(chan func()),
		done: make(chan struct{})}
}

// stop lets the waiting workers exit; mailboxes scheduled later still run, each on its own goroutine.
func (d *workerDispatcher) stop() {
	if d.stopped.CompareAndSwap(false, true) {
		close(d.done)
	}
}

// Schedule runs fn on a waiting worker, or on a new one when none waits.
func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go d.worker(fn)
	}
}

// Throughput is the number of messages a mailbox processes before it yields its goroutine.
func (d *workerDispatcher) Throughput() int { return d.throughput }

func (d *workerDispatcher) worker(fn func()) {
	for {
		fn()
		if d.idle.Add(1) > d.maxIdle {
			d.idle.Add(-1)
			return
		}
		select {
		case fn = <-d.work:
			d.idle.Add(-1)
		case <-d.done:
			d.idle.Add(-1)
			return
		}
	}
}
