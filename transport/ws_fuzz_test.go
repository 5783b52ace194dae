package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// FuzzDecodeFrame feeds arbitrary client frames to the decoder (seed corpus in testdata/fuzz/FuzzDecodeFrame).
// It must never panic, must agree with encoding/json on what is JSON, and whatever it accepts must hold the
// transport's promises: every event of the client's array is either passed on valid or refused by index.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"ping"}`))
	f.Add([]byte(`{"type":"events","seq":1,"events":[{"kind":"key","t":1,"phase":"down","code":"KeyA","field":"f"}]}`))
	const maxEvents = 8
	d := newWSDecoder(wsTestKey, maxEvents)
	var fr wsFrame
	f.Fuzz(func(t *testing.T, data []byte) {
		ferr := d.decode(data, &fr)
		valid := json.Valid(data)
		if ferr == nil && !valid {
			t.Fatalf("accepted a frame encoding/json refuses: %q", data)
		}
		if !valid && (ferr == nil || ferr.code != "invalid_frame") {
			t.Fatalf("invalid JSON not refused as invalid_frame: %v", ferr)
		}
		if ferr != nil {
			if ferr.code != "invalid_frame" && ferr.code != "invalid_type" {
				t.Fatalf("unknown error code %q", ferr.code)
			}
			if valid && bytes.HasPrefix([]byte(ferr.msg), []byte("frame is not valid JSON")) && jsonDepth(data) <= wsMaxDepth {
				t.Fatalf("valid JSON of depth %d called invalid: %v", jsonDepth(data), ferr)
			}
			return
		}
		switch fr.typ {
		case wsFramePing:
			if len(fr.events) != 0 || len(fr.bad) != 0 {
				t.Fatal("a ping carries events")
			}
			return
		case wsFrameEvents:
		default:
			t.Fatalf("accepted frame of type %d", fr.typ)
		}
		if fr.seq < 1 || fr.seq > wsMaxSeq {
			t.Fatalf("seq %d accepted", fr.seq)
		}
		if fr.count > maxEvents || len(fr.events) != len(fr.index) || len(fr.events)+len(fr.bad) != fr.count {
			t.Fatalf("count %d, %d good, %d indexes, %d bad", fr.count, len(fr.events), len(fr.index), len(fr.bad))
		}
		seen := make([]bool, fr.count)
		last := int32(-1)
		for _, i := range fr.index {
			if i <= last || int(i) >= fr.count || seen[i] {
				t.Fatalf("good indexes %v out of order or range", fr.index)
			}
			seen[i], last = true, i
		}
		last = -1
		for _, b := range fr.bad {
			if b.index <= last || int(b.index) >= fr.count || seen[b.index] || b.msg == "" {
				t.Fatalf("bad event %d (%q) out of order, range, or also good", b.index, b.msg)
			}
			seen[b.index], last = true, b.index
		}
		for i, e := range fr.events {
			if why := wsCheckEvent(e); why != "" {
				t.Fatalf("event %d passed on invalid: %s: %v", fr.index[i], why, e)
			}
		}
	})
}

// wsCheckEvent restates what a valid event is, independently of the decoder.
func wsCheckEvent(e *enginepb.Event) string {
	finite := func(vs ...float64) bool {
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
		return true
	}
	if !finite(e.T, e.X, e.Y, e.Pressure, e.Ax, e.Ay, e.Az, e.Gx, e.Gy, e.Gz) || math.Abs(e.T) > wsMaxT {
		return "number"
	}
	text := func(s string, max int) bool { return s != "" && len(s) <= max && wsCheckText([]byte(s), max) == "" }
	switch e.Kind {
	case enginepb.EventKind_EVENT_KIND_KEY:
		if e.Phase != enginepb.Phase_PHASE_DOWN && e.Phase != enginepb.Phase_PHASE_UP || !text(e.Field, wsMaxField) {
			return "key"
		}
	case enginepb.EventKind_EVENT_KIND_COMMIT:
		if !text(e.Field, wsMaxField) || e.Code != 0 {
			return "commit"
		}
	case enginepb.EventKind_EVENT_KIND_POINTER:
		if e.Phase == enginepb.Phase_PHASE_UNSPECIFIED || math.Abs(e.X) > wsMaxCoord || math.Abs(e.Y) > wsMaxCoord ||
			e.Pressure < 0 || e.Pressure > wsMaxPressure ||
			(e.Pointer != "" && e.Pointer != "mouse" && e.Pointer != "touch" && e.Pointer != "pen") {
			return "pointer"
		}
	case enginepb.EventKind_EVENT_KIND_MOTION:
		for _, v := range []float64{e.Ax, e.Ay, e.Az, e.Gx, e.Gy, e.Gz} {
			if math.Abs(v) > wsMaxMotion {
				return "motion"
			}
		}
	case enginepb.EventKind_EVENT_KIND_NAV:
		if !text(e.Screen, wsMaxScreen) {
			return "nav"
		}
	default:
		return "kind"
	}
	return ""
}

// jsonDepth is the deepest nesting of a valid JSON text.
func jsonDepth(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return deepest
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
				deepest = max(deepest, depth)
			} else {
				depth--
			}
		}
	}
}
