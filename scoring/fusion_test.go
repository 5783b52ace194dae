package scoring

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestFusion(t *testing.T) {
	f := Fusion{HalfLifeMs: 1000, Prior: 0.1, PriorWeight: 1}
	var st FusionState
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if r := f.Risk(st, 0); !near(r, 0.1) {
		t.Fatalf("no evidence: %v", r)
	}
	if r := f.Add(&st, 0, 1, 1); !near(r, 0.55) {
		t.Fatalf("one bad sample: %v", r)
	}
	if r := f.Risk(st, 1000); !near(r, (0.1+0.5)/1.5) {
		t.Fatalf("one half-life later: %v", r)
	}
	if r := f.Risk(st, 1e6); !near(r, 0.1) {
		t.Fatalf("long after: %v", r)
	}
	if r := f.Add(&st, 1000, 0, 1); !near(r, (0.1+0.5)/2.5) {
		t.Fatalf("good sample after a half-life: %v", r)
	}
	// Out of order: folded in without decaying the rest, clock stays.
	before := st
	f.Add(&st, 500, 0, 2)
	if st.T != before.T || !near(st.Weight, before.Weight+2) || st.Samples != 3 {
		t.Fatalf("out of order: %+v from %+v", st, before)
	}
	// NaN risk counts as 1; weight <= 0 counts as 1; risk is clamped.
	var s2 FusionState
	if r := f.Add(&s2, 0, math.NaN(), 0); !near(r, 0.55) {
		t.Fatalf("NaN: %v", r)
	}
	if r := f.Add(&s2, 0, 7, 1); !near(r, (0.1+2)/3) {
		t.Fatalf("clamped: %v", r)
	}
	b, _ := json.Marshal(st)
	var back FusionState
	if err := json.Unmarshal(b, &back); err != nil || back != st {
		t.Fatalf("json roundtrip %s -> %+v %v", b, back, err)
	}
}

func TestFusionValidate(t *testing.T) {
	for _, f := range []Fusion{{HalfLifeMs: -1}, {Prior: 2}, {PriorWeight: math.Inf(1)}} {
		if err := f.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", f, err)
		}
	}
	if err := DefaultFusion().Validate(); err != nil {
		t.Fatal(err)
	}
	if ModalityWeight(ModalityKeystroke) <= ModalityWeight(ModalityMotion) || ModalityWeight(0) != 0 {
		t.Fatal("modality weights")
	}
}
