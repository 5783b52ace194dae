package actors

import (
	"runtime"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// workerDispatcher runs actor mailboxes on reused goroutines. Proto.Actor's default dispatcher starts a new
// goroutine each time an idle mailbox gets a message; on the event path that is several times per frame, and
// every new goroutine grows its small initial stack through the same deep call chain again (copying it each
// time: about a tenth of the node's CPU under load). A worker that finishes a mailbox waits for the next one
// instead, with its stack already grown.
//
// A requester that is about to wait for an actor's answer runs the actor's mailbox itself instead (claim and
// release, used by replies.request): handing the message to a worker and the answer back costs two goroutine
// hand-offs per request, each a wake-up of another thread when the other core idles (on a two-core VM, the
// largest kernel cost of the event path after the socket writes). The goroutine that posts a message to an idle
// mailbox is the one that calls Schedule; a requester opens a claim just before posting, and the first Schedule
// while it is open, its own target's in the usual case, hands its run to the claim instead of to a worker. The
// run can be any mailbox's (another goroutine's Schedule may take the claim first): a mailbox runs correctly on
// any goroutine, and the requester runs it at once, so every scheduled run still runs. The request's timeout then
// bounds only the wait after the run: the run lasts as long as the actor's handling, whose own waits (requests,
// database calls) have deadlines of their own.
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
	claimed    atomic.Pointer[inlineRun] // the open claim, if any
}

// inlineRun is a requester's claim on the next scheduled mailbox run.
type inlineRun struct {
	fn    func()
	taken atomic.Bool // fn is set
}

// claim opens r's claim. It fails while another requester's claim is open; the request then goes the usual way.
func (d *workerDispatcher) claim(r *inlineRun) bool { return d.claimed.CompareAndSwap(nil, r) }

// release closes r's claim and returns the mailbox run it took, or nil: the requester runs it before waiting.
func (d *workerDispatcher) release(r *inlineRun) func() {
	if d.claimed.CompareAndSwap(r, nil) {
		return nil // nothing was scheduled while it was open: the target's mailbox was running already
	}
	for !r.taken.Load() {
		runtime.Gosched() // the Schedule that took the claim is about to set fn
	}
	fn := r.fn
	r.fn = nil
	r.taken.Store(false)
	return fn
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

// Schedule hands fn to an open claim, else runs it on a waiting worker, or on a new one when none waits.
func (d *workerDispatcher) Schedule(fn func()) {
	if r := d.claimed.Load(); r != nil && d.claimed.CompareAndSwap(r, nil) {
		r.fn = fn
		r.taken.Store(true)
		return
	}
	d.dispatch(fn)
}

// dispatch runs fn on a waiting worker, or on a new one when none waits.
func (d *workerDispatcher) dispatch(fn func()) {
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
