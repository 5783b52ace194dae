package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// echoActor answers every string with itself, except "slow", which it answers after a while.
type echoActor struct{}

func (echoActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case string:
		if m == "slow" {
			time.Sleep(200 * time.Millisecond)
		}
		ctx.Respond(m)
	}
}

func TestReplies(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	r := newReplies(sys, nil, 2)
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echoActor{} }))
	dead := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echoActor{} }))
	if err := sys.Root.StopFuture(dead).Wait(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		to      *actor.PID
		msg     string
		timeout time.Duration
		want    any
		wantErr error
	}{
		{"answer", pid, "a", time.Second, "a", nil},
		{"next answer on a reused slot", pid, "b", time.Second, "b", nil},
		{"stopped actor", dead, "c", time.Second, nil, actor.ErrDeadLetter},
		{"timeout", pid, "slow", 20 * time.Millisecond, nil, actor.ErrTimeout},
		// The late answer to "slow" arrives while this request waits: it must not be taken for this one.
		{"after a timeout", pid, "d", time.Second, "d", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.request(tc.to, tc.msg, tc.timeout)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("answer %v, want %v", got, tc.want)
			}
		})
	}
	r.mu.Lock()
	free := len(r.free)
	r.mu.Unlock()
	if free > 2 {
		t.Fatalf("%d free slots, want at most 2", free)
	}
}
