package cmu

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/behaviorauth/engine/features"
)

func TestGenerateShapeAndDeterminism(t *testing.T) {
	cfg := GenConfig{Seed: 42, Subjects: 3, Sessions: 2, Reps: 5}
	var a, b, c bytes.Buffer
	if err := Generate(&a, cfg); err != nil {
		t.Fatal(err)
	}
	_ = Generate(&b, cfg)
	cfg.Seed = 43
	_ = Generate(&c, cfg)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same seed, different data")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("different seeds, same data")
	}
	if first, _, _ := strings.Cut(a.String(), "\n"); first != cmuHeader {
		t.Fatalf("header %q", first)
	}
	ds, err := ReadCSV(&a)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Rows) != 3*2*5 || ds.Dim != 31 {
		t.Fatalf("%d rows of dim %d", len(ds.Rows), ds.Dim)
	}
	n := len(ds.Keys)
	for _, r := range ds.Rows {
		for k := 0; k < n; k++ {
			h := r.Vec[k]
			if h < 10 || h > 2000 {
				t.Fatalf("line %d: hold %v ms", r.Line, h)
			}
			if k+1 < n {
				dd := r.Vec[features.FixedDDOffset(n)+k]
				ud := r.Vec[features.FixedUDOffset(n)+k]
				if dd < 20 || dd > 10000 || math.Abs(float64(dd-h-ud)) > 0.15 {
					t.Fatalf("line %d key %d: H %v DD %v UD %v (DD must equal H+UD)", r.Line, k, h, dd, ud)
				}
			}
		}
	}
	if ds.Rows[0].Subject != "s002" || ds.Rows[len(ds.Rows)-1].Subject != "s004" || ds.Rows[9].Session != 2 || ds.Rows[9].Rep != 5 {
		t.Fatalf("row identities %+v %+v", ds.Rows[0], ds.Rows[9])
	}
}

func TestGenerateRefusesBadShape(t *testing.T) {
	if err := Generate(&bytes.Buffer{}, GenConfig{Subjects: 1}); !errors.Is(err, ErrProtocol) {
		t.Fatalf("one subject: %v", err)
	}
}
