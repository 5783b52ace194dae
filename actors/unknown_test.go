package actors_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/behaviorauth/engine/actors"
)

// Requests for a session id nobody started hear "not found", also when they come close behind each other (a
// REST status check as the user, then as an operator, or a client probing): none may be left without an
// answer, which a request reaching the activation just after it stopped would be.
func TestUnknownSessionAnswersEveryRequest(t *testing.T) {
	h := startNode(t, nil)
	ctx := testCtx(t)
	for i := 0; i < 10; i++ {
		id := uuid.NewString()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := h.eng.Status(ctx, id); !errors.Is(err, actors.ErrSessionNotFound) {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("status of unknown session %s: %v, want %v", id, err, actors.ErrSessionNotFound)
		}
	}
}
