package persistence

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Feature vectors are stored as bytea: each float32 in IEEE 754 little-endian order, 4 bytes per dimension, with
// no header (the dimension is len/4; fraud_vectors also stores it in its own column, which a check constraint ties
// to the length). That is about a quarter of the size of real[] and decodes without parsing.

// MaxVectorDim bounds the dimension of a stored vector (the tables check the same bound).
const MaxVectorDim = 65536

// EncodeVector returns v in the stored encoding. It refuses what DecodeVector would refuse: an empty vector, one
// longer than MaxVectorDim, or a NaN or infinite component (which would poison any index built from it).
func EncodeVector(v []float32) ([]byte, error) {
	if err := engCheckVector(v); err != nil {
		return nil, err
	}
	b, _ := engPutVector(make([]byte, 4*len(v)), v)
	return b, nil
}

// engPutVector encodes v (already checked) at the start of buf, which must have room for it, and returns the
// encoding and the rest of buf.
func engPutVector(buf []byte, v []float32) (enc, rest []byte) {
	enc, rest = buf[:4*len(v):4*len(v)], buf[4*len(v):]
	for i, x := range v {
		binary.LittleEndian.PutUint32(enc[4*i:], math.Float32bits(x))
	}
	return enc, rest
}

// DecodeVector returns the vector that b encodes (see EncodeVector). b comes from storage and is not trusted:
// a length that is zero, not a multiple of 4 or over MaxVectorDim dimensions, or a NaN or infinite component,
// gives an error wrapping ErrInvalidVector.
func DecodeVector(b []byte) ([]float32, error) {
	if len(b) == 0 || len(b)%4 != 0 || len(b)/4 > MaxVectorDim {
		return nil, fmt.Errorf("persistence: vector of %d bytes: %w", len(b), ErrInvalidVector)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		x := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("persistence: vector component %d is not finite: %w", i, ErrInvalidVector)
		}
		v[i] = x
	}
	return v, nil
}

func engCheckVector(v []float32) error {
	if len(v) == 0 || len(v) > MaxVectorDim {
		return fmt.Errorf("persistence: vector of %d dimensions: %w", len(v), ErrInvalidVector)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("persistence: vector component %d is not finite: %w", i, ErrInvalidVector)
		}
	}
	return nil
}
