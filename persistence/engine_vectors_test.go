package persistence_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/behaviorauth/engine/persistence"
)

func TestEncodeVector(t *testing.T) {
	tests := []struct {
		name string
		v    []float32
		want []byte
	}{
		{"one", []float32{1}, []byte{0x00, 0x00, 0x80, 0x3f}},
		{"little-endian", []float32{-2, 0.5}, []byte{0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f}},
		{"negative zero kept", []float32{float32(math.Copysign(0, -1))}, []byte{0, 0, 0, 0x80}},
		{"largest finite", []float32{math.MaxFloat32}, []byte{0xff, 0xff, 0x7f, 0x7f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := persistence.EncodeVector(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("% x, want % x", got, tt.want)
			}
			back, err := persistence.DecodeVector(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.v) || math.Signbit(float64(back[0])) != math.Signbit(float64(tt.v[0])) {
				t.Fatalf("round trip %v, want %v", back, tt.v)
			}
		})
	}
}

func TestVectorRefused(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(-1))
	tests := []struct {
		name string
		v    []float32
	}{
		{"empty", nil},
		{"NaN", []float32{1, nan}},
		{"infinite", []float32{inf}},
		{"too long", make([]float32, persistence.MaxVectorDim+1)},
	}
	for _, tt := range tests {
		t.Run("encode "+tt.name, func(t *testing.T) {
			if _, err := persistence.EncodeVector(tt.v); !errors.Is(err, persistence.ErrInvalidVector) {
				t.Fatalf("%v, want ErrInvalidVector", err)
			}
		})
	}
	raw := func(v ...uint32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], x)
		}
		return b
	}
	decodes := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"not a multiple of 4", []byte{0, 0, 0x80, 0x3f, 0}},
		{"NaN", raw(0x3f800000, 0x7fc00000)},
		{"signalling NaN", raw(0x7f800001)},
		{"infinite", raw(0xff800000)},
		{"too long", make([]byte, 4*(persistence.MaxVectorDim+1))},
	}
	for _, tt := range decodes {
		t.Run("decode "+tt.name, func(t *testing.T) {
			if _, err := persistence.DecodeVector(tt.b); !errors.Is(err, persistence.ErrInvalidVector) {
				t.Fatalf("%v, want ErrInvalidVector", err)
			}
		})
	}
}

// FuzzDecodeVector holds that the decoder never panics on stored bytes, and that what it accepts encodes back to
// the same bytes.
func FuzzDecodeVector(f *testing.F) {
	for _, v := range [][]float32{{1}, {-2, 0.5}, {0, 1e-38, 3.4e38}} {
		b, err := persistence.EncodeVector(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := persistence.DecodeVector(b)
		if err != nil {
			if !errors.Is(err, persistence.ErrInvalidVector) {
				t.Fatalf("error %v does not wrap ErrInvalidVector", err)
			}
			return
		}
		if len(v) != len(b)/4 {
			t.Fatalf("%d bytes decoded to %d dimensions", len(b), len(v))
		}
		back, err := persistence.EncodeVector(v)
		if err != nil {
			t.Fatalf("decoded vector does not encode: %v", err)
		}
		if !bytes.Equal(back, b) {
			t.Fatalf("round trip % x, want % x", back, b)
		}
	})
}
