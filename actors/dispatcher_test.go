package actors

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

func TestWorkerDispatcher(t *testing.T) {
	tests := []struct {
		name    string
		maxIdle int
		tasks   int
		// blocking tasks wait for each other: they finish only if each got its own goroutine.
		blocking bool
	}{
		{"sequential reuse", 4, 100, false},
		{"no idle workers kept", 0, 50, false},
		{"blocked workers never starve new work", 2, 20, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newWorkerDispatcher(300, tc.maxIdle)
			defer d.stop()
			var wg sync.WaitGroup
			release := make(chan struct{})
			var started sync.WaitGroup
			for range tc.tasks {
				wg.Add(1)
				started.Add(1)
				d.Schedule(func() {
					defer wg.Done()
					started.Done()
					if tc.blocking {
						<-release
					}
				})
			}
			done := make(chan struct{})
			go func() { started.Wait(); close(release); wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("scheduled work did not all run")
			}
			deadline := time.Now().Add(5 * time.Second)
			for d.idle.Load() > int32(tc.maxIdle) {
				if time.Now().After(deadline) {
					t.Fatalf("%d idle workers, want at most %d", d.idle.Load(), tc.maxIdle)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

func TestWorkerDispatcherStop(t *testing.T) {
	d := newWorkerDispatcher(300, 8)
	var wg sync.WaitGroup
	wg.Add(1)
	d.Schedule(wg.Done)
	wg.Wait()
	d.stop()
	d.stop() // twice is harmless
	deadline := time.Now().Add(5 * time.Second)
	for d.idle.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still waiting after stop", d.idle.Load())
		}
		time.Sleep(time.Millisecond)
	}
	wg.Add(1)
	d.Schedule(wg.Done) // work after stop still runs
	wg.Wait()
}

// goid is the calling goroutine's id, read from its stack header (tests only).
func goid() string {
	var b [64]byte
	s := string(b[:runtime.Stack(b[:], false)])
	s = strings.TrimPrefix(s, "goroutine ")
	return s[:strings.IndexByte(s, ' ')]
}

// TestInlineRuns: a request to a local actor on the dispatcher runs the actor's mailbox on the requester's
// goroutine; a claim another Schedule takes still gets its run run; a second claim waits its turn.
func TestInlineRuns(t *testing.T) {
	t.Run("a request runs its target's mailbox itself", func(t *testing.T) {
		sys, d, r := inlineFixture(t)
		pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(string); ok {
				c.Respond(goid())
			}
		}, actor.WithDispatcher(d)))
		ask := func() any {
			got, err := r.request(pid, "where", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		// Until a worker has finished the mailbox's first run (its Started, and whatever was posted meanwhile),
		// answers come from there. Once a requester has run the mailbox, every request finds it idle.
		warm := 0
		for ask() != goid() {
			if warm++; warm == 100 {
				t.Fatal("no answer in 100 came from the requester's goroutine")
			}
		}
		for i := range 20 {
			if got := ask(); got != goid() {
				t.Fatalf("answer %d came from goroutine %v, not the requester's", i, got)
			}
		}
		noInline := newReplies(sys, nil, 4)
		if got, err := noInline.request(pid, "where", time.Second); err != nil || got == goid() {
			t.Fatalf("without the dispatcher: %v %v, want an answer from a worker", got, err)
		}
	})
	t.Run("a post that panics loses no run and leaves no claim open", func(t *testing.T) {
		sys, d, r := inlineFixture(t)
		ran := make(chan struct{}, 1)
		pid, _ := sys.ProcessRegistry.Add(panickyProcess{d: d, ran: ran}, "panicky")
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the post's panic did not reach the requester")
				}
			}()
			_, _ = r.request(pid, "x", time.Second)
		}()
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Fatal("the run the claim took was lost")
		}
		if d.claimed.Load() != nil {
			t.Fatal("the claim was left open")
		}
	})
	t.Run("a claim taken by another Schedule hands over that run", func(t *testing.T) {
		d := newWorkerDispatcher(300, 4)
		defer d.stop()
		var mine, other inlineRun
		if !d.claim(&mine) {
			t.Fatal("claim refused with none open")
		}
		if d.claim(&other) {
			t.Fatal("a second claim was opened while one was open")
		}
		ran := make(chan string, 1)
		done := make(chan struct{})
		go func() { d.Schedule(func() { ran <- goid() }); close(done) }()
		<-done
		fn := d.release(&mine)
		if fn == nil {
			t.Fatal("the scheduled run was not handed to the claim")
		}
		fn()
		if g := <-ran; g != goid() {
			t.Fatalf("the run ran on goroutine %s, not the claimant's", g)
		}
		if !d.claim(&other) || d.release(&other) != nil {
			t.Fatal("a claim with nothing scheduled meanwhile must return no run")
		}
		// Without a claim, a run goes to a worker.
		d.Schedule(func() { ran <- goid() })
		select {
		case g := <-ran:
			if g == goid() {
				t.Fatal("an unclaimed run ran on the scheduler's goroutine")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an unclaimed run never ran")
		}
	})
}

// inlineFixture is an actor system, a dispatcher and reply slots that run local mailboxes inline, all stopped
// when the test ends.
func inlineFixture(t *testing.T) (*actor.ActorSystem, *workerDispatcher, *replies) {
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	d := newWorkerDispatcher(300, 4)
	t.Cleanup(d.stop)
	return sys, d, newReplies(sys, d, 4)
}

// panickyProcess schedules a mailbox run, as a post does, and then panics.
type panickyProcess struct {
	d   *workerDispatcher
	ran chan struct{}
}

func (p panickyProcess) SendUserMessage(*actor.PID, any) {
	p.d.Schedule(func() { p.ran <- struct{}{} })
	panic("post failed")
}
func (panickyProcess) SendSystemMessage(*actor.PID, any) {}
func (panickyProcess) Stop(*actor.PID)                   {}
