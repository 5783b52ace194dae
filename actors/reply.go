package actors

import (
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// replies is a free list of reusable reply addresses for requests to actors. Proto.Actor's futures register a
// new process, start a timer goroutine's worth of state and take a lock per request; on the event path (two
// requests per frame: to the session, and from it to the profile) that was a tenth of the node's CPU. A reply
// slot is registered once, answers onto a channel and keeps its timer, and goes back to the free list after a
// clean answer. A slot whose request timed out is never reused: its late answer must not be taken for the
// answer to a later request, so it is unregistered and dropped.
type replies struct {
	sys    *actor.ActorSystem
	inline *workerDispatcher // the local actors' dispatcher, whose mailbox runs a requester may take (nil: none)
	mu     sync.Mutex
	free   []*replySlot
	max    int
}

// replySlot is one registered reply address.
type replySlot struct {
	pid  *actor.PID
	proc *replyProcess
	run  inlineRun
}

// replyProcess receives the answer to the one request its slot carries at a time.
type replyProcess struct {
	*awaiter[any]
}

// awaiter is an answer channel with its own timer, both reused while answers come in time. One whose wait timed
// out must not be reused: its late answer may still arrive.
type awaiter[T any] struct {
	ch chan T // capacity 1: the answer never blocks the one who answers
	t  *time.Timer
}

func newAwaiter[T any]() *awaiter[T] {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &awaiter[T]{ch: make(chan T, 1), t: t}
}

// await returns the answer, or false when none came within d.
func (a *awaiter[T]) await(d time.Duration) (T, bool) {
	a.t.Reset(d)
	select {
	case v := <-a.ch:
		a.t.Stop()
		return v, true
	case <-a.t.C:
		var zero T
		return zero, false
	}
}

var _ actor.Process = (*replyProcess)(nil)

// SendUserMessage takes the answer (local, or from a remote member); a second answer to one request is dropped.
func (p *replyProcess) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	if _, dead := msg.(*actor.DeadLetterResponse); dead {
		msg = actor.ErrDeadLetter
	}
	select {
	case p.ch <- msg:
	default:
	}
}

// SendSystemMessage ignores system messages: a reply address watches nothing.
func (p *replyProcess) SendSystemMessage(*actor.PID, any) {}

// Stop is a no-op: slots are unregistered by the free list that owns them.
func (p *replyProcess) Stop(*actor.PID) {}

func newReplies(sys *actor.ActorSystem, inline *workerDispatcher, max int) *replies {
	return &replies{sys: sys, inline: inline, max: max}
}

func (r *replies) get() (*replySlot, error) {
	r.mu.Lock()
	if n := len(r.free); n > 0 {
		s := r.free[n-1]
		r.free = r.free[:n-1]
		r.mu.Unlock()
		return s, nil
	}
	r.mu.Unlock()
	p := &replyProcess{newAwaiter[any]()}
	pid, ok := r.sys.ProcessRegistry.Add(p, "reply"+r.sys.ProcessRegistry.NextId())
	if !ok {
		return nil, fmt.Errorf("reply address %s already registered", pid.Id)
	}
	return &replySlot{pid: pid, proc: p}, nil
}

func (r *replies) put(s *replySlot) {
	r.mu.Lock()
	if len(r.free) < r.max {
		r.free = append(r.free, s)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.drop(s)
}

func (r *replies) drop(s *replySlot) { r.sys.ProcessRegistry.Remove(s.pid) }

// postClaimed posts msg with s's claim open, then closes the claim and runs the mailbox run it took, if any.
// Should posting panic, the claim is closed all the same and its run goes to a worker: no run is ever lost.
func (r *replies) postClaimed(pid *actor.PID, msg any, s *replySlot) {
	posted := false
	defer func() {
		fn := r.inline.release(&s.run)
		switch {
		case fn == nil:
		case posted:
			fn()
		default:
			r.inline.dispatch(fn)
		}
	}()
	r.sys.Root.RequestWithCustomSender(pid, msg, s.pid)
	posted = true
}

// request sends msg to pid and waits up to timeout for its answer. It returns actor.ErrDeadLetter when pid is
// gone and actor.ErrTimeout when no answer came in time.
func (r *replies) request(pid *actor.PID, msg any, timeout time.Duration) (any, error) {
	s, err := r.get()
	if err != nil {
		return nil, err
	}
	// A local target's mailbox, when the request makes it run, runs here: this goroutine only waits otherwise.
	if r.inline != nil && pid.Address == r.sys.Address() && r.inline.claim(&s.run) {
		r.postClaimed(pid, msg, s)
	} else {
		r.sys.Root.RequestWithCustomSender(pid, msg, s.pid)
	}
	res, ok := s.proc.await(timeout)
	if !ok {
		r.drop(s)
		return nil, actor.ErrTimeout
	}
	r.put(s)
	if err, ok := res.(error); ok && err == actor.ErrDeadLetter {
		return nil, err
	}
	return res, nil
}
