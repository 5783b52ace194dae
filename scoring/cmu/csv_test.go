package cmu

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/behaviorauth/engine/features"
)

// The header of the real DSL-StrongPasswordData.csv.
const cmuHeader = "subject,sessionIndex,rep,H.period,DD.period.t,UD.period.t,H.t,DD.t.i,UD.t.i,H.i,DD.i.e,UD.i.e," +
	"H.e,DD.e.five,UD.e.five,H.five,DD.five.Shift.r,UD.five.Shift.r,H.Shift.r,DD.Shift.r.o,UD.Shift.r.o,H.o,DD.o.a," +
	"UD.o.a,H.a,DD.a.n,UD.a.n,H.n,DD.n.l,UD.n.l,H.l,DD.l.Return,UD.l.Return,H.Return"

func TestParseHeaderCMU(t *testing.T) {
	h, err := ParseHeader(strings.Split(cmuHeader, ","))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"period", "t", "i", "e", "five", "Shift.r", "o", "a", "n", "l", "Return"}
	if strings.Join(h.Keys, " ") != strings.Join(want, " ") {
		t.Fatalf("keys %v", h.Keys)
	}
	if strings.Join(HeaderFields(want), ",") != cmuHeader {
		t.Fatal("HeaderFields does not reproduce the benchmark header")
	}
}

func TestReadCSVLayout(t *testing.T) {
	// Three keys: H.a DD.a.b UD.a.b H.b DD.b.c UD.b.c H.c, times in seconds.
	in := "subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b,DD.b.c,UD.b.c,H.c\n" +
		"s1,1,1,0.1000,0.2500,0.1500,0.0800,0.3000,0.2200,0.0900\n" +
		"s1,1,2, 0.1100,0.2000,0.0900,0.0700,0.1000,-0.0100,0.0950\n"
	ds, err := ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if ds.Dim != 7 || len(ds.Rows) != 2 || features.KeysForDim(ds.Dim) != 3 {
		t.Fatalf("dim %d rows %d", ds.Dim, len(ds.Rows))
	}
	// features layout: holds, DD, UD; in ms.
	want := []float32{100, 80, 90, 250, 300, 150, 220}
	for i, w := range want {
		if d := ds.Rows[0].Vec[i] - w; d > 1e-3 || d < -1e-3 {
			t.Fatalf("vec %v, want %v", ds.Rows[0].Vec, want)
		}
	}
	r := ds.Rows[1]
	if r.Subject != "s1" || r.Session != 1 || r.Rep != 2 || r.Line != 3 || r.Vec[6] > -9.99 || r.Vec[6] < -10.01 {
		t.Fatalf("row %+v", r)
	}
}

func TestReadCSVErrors(t *testing.T) {
	head := "subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b\n"
	row := "s1,1,1,0.1,0.2,0.1,0.1\n"
	tests := []struct {
		name       string
		in         string
		err        error
		line, col  int
		columnName string
	}{
		{"empty file", "", ErrHeader, 1, 0, ""},
		{"lead column", "subj,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b\n", ErrHeader, 1, 1, "subj"},
		{"timing count", "subject,sessionIndex,rep,H.a,DD.a.b\n", ErrHeader, 1, 0, ""},
		{"hold name", "subject,sessionIndex,rep,X.a,DD.a.b,UD.a.b,H.b\n", ErrHeader, 1, 4, "X.a"},
		{"latency name", "subject,sessionIndex,rep,H.a,DD.a.c,UD.a.b,H.b\n", ErrHeader, 1, 5, "DD.a.c"},
		{"field count", head + row + "s1,1,2,0.1,0.2\n", ErrFieldCount, 3, 0, ""},
		{"bad number", head + row + row + "s1,1,3,0.1,0.2,abc,0.1\n", ErrValue, 4, 6, "UD.a.b"},
		{"infinite", head + "s1,1,1,0.1,Inf,0.1,0.1\n", ErrValue, 2, 5, "DD.a.b"},
		{"negative hold", head + "s1,1,1,0.1,0.2,0.1,-0.1\n", ErrValue, 2, 7, "H.b"},
		{"empty subject", head + ",1,1,0.1,0.2,0.1,0.1\n", ErrValue, 2, 1, "subject"},
		{"bad rep", head + "s1,1,x,0.1,0.2,0.1,0.1\n", ErrValue, 2, 3, "rep"},
		{"zero session", head + "s1,0,1,0.1,0.2,0.1,0.1\n", ErrValue, 2, 2, "sessionIndex"},
		{"bad quote", head + row + "s1,1,\"2,0.1,0.2,0.1,0.1\n", ErrValue, 3, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("not a *ParseError: %v", err)
			}
			if pe.Line != tt.line || pe.Column != tt.col || pe.Name != tt.columnName {
				t.Fatalf("at line %d column %d (%q), want line %d column %d (%q): %v",
					pe.Line, pe.Column, pe.Name, tt.line, tt.col, tt.columnName, err)
			}
			if tt.col > 0 && !strings.Contains(err.Error(), "column") {
				t.Fatalf("message does not name the column: %v", err)
			}
		})
	}
}

// FuzzParseRow runs the row parser on arbitrary fields of the benchmark's layout: it must
// return a row or a *ParseError, never panic, and a row it accepts is finite.
func FuzzParseRow(f *testing.F) {
	h, err := ParseHeader(strings.Split(cmuHeader, ","))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("s002,1,1,0.1491,0.3979,0.2488,0.1069,0.1674,0.0605,0.1169,0.2212,0.1043,0.1417,1.1885,1.0468,0.1146,1.6055,1.4909,0.1067,0.7590,0.6523,0.1016,0.2136,0.1120,0.1349,0.1484,0.0135,0.0932,0.3515,0.2583,0.1338,0.3509,0.2171,0.0742")
	f.Add("s1,1,1,0.1,0.2")
	f.Add("s1,-1,1e400," + strings.Repeat("NaN,", 30) + "0x1p-3")
	dst := make([]float32, len(h.Columns))
	f.Fuzz(func(t *testing.T, line string) {
		r, err := h.ParseRow(2, strings.Split(line, ","), dst)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != 2 {
				t.Fatalf("error without its line: %v", err)
			}
			return
		}
		for i, v := range r.Vec {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("value %d = %v", i, v)
			}
		}
		if r.Session < 1 || r.Rep < 1 || r.Subject == "" {
			t.Fatalf("row %+v", r)
		}
	})
}

// FuzzReadCSV runs the whole reader on arbitrary files.
func FuzzReadCSV(f *testing.F) {
	f.Add("subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b\ns1,1,1,0.1,0.2,0.1,0.1\n")
	f.Add(cmuHeader + "\n")
	f.Add("subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b\n\"s1,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		ds, err := ReadCSV(strings.NewReader(in))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ParseError: %v", err)
			}
			return
		}
		for _, r := range ds.Rows {
			if len(r.Vec) != ds.Dim {
				t.Fatalf("row of %d values, dim %d", len(r.Vec), ds.Dim)
			}
		}
	})
}
