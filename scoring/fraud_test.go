package scoring

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestFraudSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const dim = 12
	pop := make([]float32, 500*dim)
	for i := range pop {
		pop[i] = float32(10 + 3*rng.NormFloat64())
	}
	f, err := NewFraudSet(ModalityPointer, pop, dim)
	if err != nil {
		t.Fatal(err)
	}
	fraudster := pop[7*dim : 8*dim]
	idx := NewExactSearcher(dim)
	std := make([]float32, dim)
	if err := f.Standardize(fraudster, std); err != nil {
		t.Fatal(err)
	}
	if err := idx.AddWithIDs(std, []int64{77}); err != nil {
		t.Fatal(err)
	}
	sc := NewScratch(dim, 1)

	same, err := f.Match(fraudster, idx, sc)
	if err != nil || !same.Near || same.NearestID != 77 || math.Abs(same.Risk-1) > 1e-6 {
		t.Fatalf("the fraud vector itself: %+v %v", same, err)
	}
	other, err := f.Match(pop[100*dim:101*dim], idx, sc)
	if err != nil || other.Near || other.Risk > 0.05 {
		t.Fatalf("an unrelated vector: %+v %v", other, err)
	}
	nearby := append([]float32(nil), fraudster...)
	for i := range nearby {
		nearby[i] += 0.3 // 0.1 population deviations
	}
	close1, _ := f.Match(nearby, idx, sc)
	if !close1.Near || close1.Risk < 0.5 || close1.Risk >= 1 {
		t.Fatalf("near the fraud vector: %+v", close1)
	}
	empty, err := f.Match(fraudster, NewExactSearcher(dim), sc)
	if err != nil || empty.Risk != 0 || empty.NearestID != -1 {
		t.Fatalf("empty fraud index: %+v %v", empty, err)
	}
	if _, err := f.Match(fraudster[:3], idx, sc); !errors.Is(err, ErrDimension) {
		t.Fatalf("short vector: %v", err)
	}

	r := Result{Status: StatusScored, Risk: 0.2}
	r.AddReason(ReasonPointerPatternClose)
	r.AddFraud(close1)
	if rs := r.Reasons(); len(rs) != 2 || rs[0] != ReasonNearKnownFraud || rs[1] != ReasonPointerPatternClose || math.Abs(r.Risk-(1-0.8*(1-close1.Risk))) > 1e-12 {
		t.Fatalf("AddFraud: %+v", r)
	}
	un := Result{Status: StatusRejected}
	un.AddFraud(same)
	if un.Risk != 0 || un.Has(ReasonNearKnownFraud) {
		t.Fatal("AddFraud changed an unscored result")
	}

	b, _ := json.Marshal(f)
	var back FraudSet
	if err := json.Unmarshal(b, &back); err != nil || back.Validate() != nil || back.Radius != f.Radius {
		t.Fatalf("json roundtrip: %v", err)
	}
}

func TestFraudSetValidate(t *testing.T) {
	ok := FraudSet{Modality: ModalityMotion, Mean: []float32{1, 2}, Std: []float32{1, 1}, Radius: 0.3}
	bad := []FraudSet{
		{Modality: 0, Mean: ok.Mean, Std: ok.Std, Radius: 0.3},
		{Modality: ModalityMotion, Mean: ok.Mean, Std: []float32{1}, Radius: 0.3},
		{Modality: ModalityMotion, Mean: ok.Mean, Std: []float32{1, 0}, Radius: 0.3},
		{Modality: ModalityMotion, Mean: ok.Mean, Std: ok.Std, Radius: 0},
		{Modality: ModalityMotion, Mean: []float32{float32(math.NaN()), 1}, Std: ok.Std, Radius: 0.3},
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, f := range bad {
		if err := f.Validate(); err == nil {
			t.Errorf("case %d validated", i)
		}
	}
	if _, err := NewFraudSet(ModalityMotion, []float32{1, 2, 3}, 3); !errors.Is(err, ErrNotEnoughSamples) {
		t.Fatalf("one vector: %v", err)
	}
}
