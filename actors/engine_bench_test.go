package actors_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// BenchmarkEngineEvents: the per-sample path through the real actors of a running node: Engine.Events with
// one `events` message holding a whole entry of the enrolled field (its key events and the completing commit),
// so one keystroke sample assembled by the session actor, scored by the profile actor through the FAISS index
// pool, fused, decided and queued for the write-behind; every fourth entry of 10 keys (each of 40) also
// completes a free-text sample.
func BenchmarkEngineEvents(b *testing.B) {
	h := startNode(b, nil)
	for _, keys := range []int{10, 40} {
		b.Run("keys="+strconv.Itoa(keys), func(b *testing.B) {
			codes := make([]uint64, keys)
			for i := range codes {
				codes[i] = uint64(1000 + i)
			}
			own := newTypist(uint64(keys), keys, 95, 180)
			s := h.newSession(b, h.newUser(b))
			for i := 0; i < enrollN; i++ {
				s.enter(b, own, codes)
			}
			// Entries are typed ahead, 1024 at a time with the timer stopped: every one is new, as a person's are
			// (a repeat within the replay memory would be flagged and score differently).
			entries := make([][]*enginepb.Event, 1024)
			typeAhead := func() {
				for i := range entries {
					entries[i] = s.typed(own, codes)
				}
			}
			typeAhead()
			ctx := testCtx(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(entries) {
					b.StopTimer()
					typeAhead()
					i = 0
					b.StartTimer()
				}
				evs := entries[i]
				i++
				r, err := s.h.eng.Events(ctx, s.id, &enginepb.Events{Seq: s.seq + 1, Events: evs, ReceivedAtNs: time.Now().UnixNano()})
				if err != nil || r.AckSeq != s.seq+1 || len(r.Decisions) == 0 {
					b.Fatalf("events: %v, %v", r, err)
				}
				s.seq++
			}
		})
	}
}
