package actors

import (
	"sync"
	"testing"
	"time"
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
