package cmu

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/behaviorauth/engine/features"
)

// Row is one repetition: who typed it, when, and its fixed-text vector in the features
// package's layout (holds, then down-down, then up-down latencies), in milliseconds.
type Row struct {
	Subject string
	Session int
	Rep     int
	Line    int
	Vec     []float32
}

// Dataset is a parsed CSV.
type Dataset struct {
	// Keys are the key names read from the header (".tie5Roanl"+Return in the real data:
	// period, t, i, e, five, Shift.r, o, a, n, l, Return).
	Keys []string
	// Columns are the timing column names, in file order.
	Columns []string
	// Dim is the vector length, 3·len(Keys)-2.
	Dim int
	// Rows in file order.
	Rows []Row
}

// Fingerprint returns the key sequence fingerprint of the dataset's password, computed
// from the key names as the engine computes it from key codes.
func (d *Dataset) Fingerprint() uint64 {
	keys := make([]features.Key, len(d.Keys))
	for i, k := range d.Keys {
		keys[i].Code = nameCode(k)
	}
	return features.Fingerprint(keys)
}

// nameCode hashes a key name to an opaque code, as the SDK hashes key codes (FNV-1a).
func nameCode(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Header is the parsed header: key names, and for each timing column where its value
// goes in the feature vector.
type Header struct {
	Keys    []string
	Columns []string
	// Target[c] is the feature index of timing column c.
	Target []int
}

var leadColumns = [3]string{"subject", "sessionIndex", "rep"}

// ParseHeader checks a header row: subject, sessionIndex, rep, then for n keys the 3n-2
// timing columns interleaved per key as the benchmark has them, H.k0, DD.k0.k1,
// UD.k0.k1, H.k1, ..., H.k(n-1). Errors are *ParseError on line 1.
func ParseHeader(fields []string) (*Header, error) {
	bad := func(col int, name, format string, args ...any) error {
		return &ParseError{Line: 1, Column: col, Name: name, Err: fmt.Errorf("%w: "+format, append([]any{ErrHeader}, args...)...)}
	}
	if len(fields) < len(leadColumns) {
		return nil, &ParseError{Line: 1, Err: fmt.Errorf("%w: %d columns", ErrHeader, len(fields))}
	}
	for i, want := range leadColumns {
		if fields[i] != want {
			return nil, bad(i+1, fields[i], "want %q", want)
		}
	}
	timing := fields[len(leadColumns):]
	n := features.KeysForDim(len(timing))
	if n < features.MinFixedKeys {
		return nil, &ParseError{Line: 1, Err: fmt.Errorf("%w: %d timing columns, want 3n-2 with n >= %d", ErrHeader, len(timing), features.MinFixedKeys)}
	}
	h := &Header{Keys: make([]string, n), Columns: append([]string(nil), timing...), Target: make([]int, len(timing))}
	for k := 0; k < n; k++ {
		c := 3 * k
		key, ok := strings.CutPrefix(timing[c], "H.")
		if !ok || key == "" {
			return nil, bad(len(leadColumns)+c+1, timing[c], "want a hold column H.<key>")
		}
		h.Keys[k] = key
	}
	for c := range timing {
		k, kind := c/3, c%3
		switch kind {
		case 0:
			h.Target[c] = features.FixedHoldOffset(n) + k
		case 1, 2:
			prefix := [3]string{"", "DD.", "UD."}[kind]
			want := prefix + h.Keys[k] + "." + h.Keys[k+1]
			if timing[c] != want {
				return nil, bad(len(leadColumns)+c+1, timing[c], "want %q", want)
			}
			if kind == 1 {
				h.Target[c] = features.FixedDDOffset(n) + k
			} else {
				h.Target[c] = features.FixedUDOffset(n) + k
			}
		}
	}
	return h, nil
}

// ParseRow parses one data row (line is its 1-based line number, for errors) into a Row
// whose Vec is written into dst (len >= 3n-2) in milliseconds. Times in the file are
// seconds; they must be finite, and hold times non-negative.
func (h *Header) ParseRow(line int, fields []string, dst []float32) (Row, error) {
	want := len(leadColumns) + len(h.Columns)
	if len(fields) != want {
		return Row{}, &ParseError{Line: line, Err: fmt.Errorf("%w: %d, want %d", ErrFieldCount, len(fields), want)}
	}
	if len(dst) < len(h.Columns) {
		return Row{}, fmt.Errorf("parse row: destination of %d for %d values: %w", len(dst), len(h.Columns), ErrValue)
	}
	bad := func(col int, name string, err error) error {
		return &ParseError{Line: line, Column: col, Name: name, Err: err}
	}
	r := Row{Subject: strings.TrimSpace(fields[0]), Line: line, Vec: dst[:len(h.Columns)]}
	if r.Subject == "" {
		return Row{}, bad(1, leadColumns[0], fmt.Errorf("%w: empty subject", ErrValue))
	}
	for i, p := range []*int{&r.Session, &r.Rep} {
		v, err := strconv.Atoi(strings.TrimSpace(fields[i+1]))
		if err != nil || v < 1 {
			return Row{}, bad(i+2, leadColumns[i+1], fmt.Errorf("%w: %q is not a positive integer", ErrValue, fields[i+1]))
		}
		*p = v
	}
	n := len(h.Keys)
	for c, f := range fields[len(leadColumns):] {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return Row{}, bad(len(leadColumns)+c+1, h.Columns[c], fmt.Errorf("%w: %q is not a finite number", ErrValue, f))
		}
		if h.Target[c] < n && v < 0 {
			return Row{}, bad(len(leadColumns)+c+1, h.Columns[c], fmt.Errorf("%w: negative hold time %v", ErrValue, v))
		}
		ms := v * 1000
		if math.Abs(ms) > math.MaxFloat32 {
			return Row{}, bad(len(leadColumns)+c+1, h.Columns[c], fmt.Errorf("%w: %v out of range", ErrValue, v))
		}
		r.Vec[h.Target[c]] = float32(ms)
	}
	return r, nil
}

// ReadCSV reads a whole file in the benchmark's layout. Errors name the line and the
// column (*ParseError).
func ReadCSV(r io.Reader) (*Dataset, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted by ParseRow, to report it with our error type
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, csvError(err, 1)
	}
	h, err := ParseHeader(head)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Keys: h.Keys, Columns: h.Columns, Dim: len(h.Columns)}
	line := 1
	for {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos is only valid after a successful Read.
			return nil, csvError(err, line+1)
		}
		line, _ = cr.FieldPos(0)
		row, err := h.ParseRow(line, fields, make([]float32, d.Dim))
		if err != nil {
			return nil, err
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

// csvError turns encoding/csv's error into a *ParseError.
func csvError(err error, line int) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// pe.Column counts bytes, not fields: keep it in the message only.
		return &ParseError{Line: pe.Line, Err: fmt.Errorf("%w: byte %d: %w", ErrValue, pe.Column, pe.Err)}
	}
	if errors.Is(err, io.EOF) {
		return &ParseError{Line: line, Err: fmt.Errorf("%w: empty file", ErrHeader)}
	}
	return fmt.Errorf("read csv: %w", err)
}
