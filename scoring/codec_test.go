package scoring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	owner := newTypist(11, 11)
	enrolling, _ := NewTemplateSet(ModalityKeystroke, Config{})
	for i := 0; i < 5; i++ {
		if _, err := enrolling.Enroll(Sample{Vec: owner.sample(), Fingerprint: testFP}); err != nil {
			t.Fatal(err)
		}
	}
	trained, idx := trainedSet(t, owner, Config{}, 40)
	var res Result
	sc := NewScratch(31, 3)
	for i := 0; i < 5; i++ { // some replay memory beyond the enrollment
		_ = trained.Score(Sample{Vec: owner.sample(), Fingerprint: testFP}, idx, sc, &res)
	}
	empty, _ := NewTemplateSet(ModalityMotion, Config{})

	for name, ts := range map[string]*TemplateSet{"empty": empty, "enrolling": enrolling, "trained": trained} {
		t.Run(name, func(t *testing.T) {
			data, err := ts.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			back, _ := NewTemplateSet(ModalityKeystroke, Config{})
			if err := back.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			again, _ := back.MarshalBinary()
			if !bytes.Equal(data, again) {
				t.Fatal("re-marshalled bytes differ")
			}
			if back.Modality() != ts.Modality() || back.Len() != ts.Len() || back.Ready() != ts.Ready() ||
				back.Fingerprint() != ts.Fingerprint() || back.Progress() != ts.Progress() {
				t.Fatalf("state differs: %v/%v %d/%d", back.Modality(), ts.Modality(), back.Len(), ts.Len())
			}
			if !ts.Ready() {
				return
			}
			bidx := NewExactSearcher(31)
			if err := back.LoadIndex(bidx); err != nil {
				t.Fatal(err)
			}
			s := Sample{Vec: owner.sample(), Fingerprint: testFP}
			var r1, r2 Result
			_ = ts.Score(s, idx, sc, &r1)
			_ = back.Score(s, bidx, sc, &r2)
			if r1 != r2 {
				t.Fatalf("scores differ after a round trip: %+v vs %+v", r1, r2)
			}
		})
	}
}

func TestCodecShrinksToConfig(t *testing.T) {
	owner := newTypist(12, 11)
	ts, _ := trainedSet(t, owner, Config{EnrollmentSize: 30}, 30)
	data, _ := ts.MarshalBinary()
	small, _ := NewTemplateSet(ModalityKeystroke, Config{EnrollmentSize: 10, MaxTemplates: 10})
	if err := small.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if small.Len() != 10 || !small.NeedsCalibration() || small.ids[0] != 20 {
		t.Fatalf("len %d stale %v first id %d", small.Len(), small.NeedsCalibration(), small.ids[0])
	}
	idx := NewExactSearcher(31)
	if err := small.LoadIndex(idx); err != nil {
		t.Fatal(err)
	}
	if err := small.Calibrate(idx); err != nil {
		t.Fatal(err)
	}
}

func TestCodecRejectsDamage(t *testing.T) {
	owner := newTypist(13, 6)
	ts, _ := trainedSet(t, owner, Config{EnrollmentSize: 10}, 10)
	data, _ := ts.MarshalBinary()
	for n := 0; n < len(data); n++ {
		var back TemplateSet
		if err := back.UnmarshalBinary(data[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	for i := range data {
		d := bytes.Clone(data)
		d[i] ^= 0x40
		var back TemplateSet
		if err := back.UnmarshalBinary(d); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	// Damage behind a valid checksum is caught by the field checks.
	resum := func(body []byte) []byte {
		return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, crcTable))
	}
	body := data[:len(data)-4]
	cases := map[string]func([]byte){
		"magic":    func(b []byte) { b[0] = 'X' },
		"version":  func(b []byte) { b[4] = 9 },
		"modality": func(b []byte) { b[5] = 0 },
		"flags":    func(b []byte) { b[6] = 0x80 },
		"dim huge": func(b []byte) { binary.LittleEndian.PutUint32(b[8:], 1<<20) },
		"count":    func(b []byte) { binary.LittleEndian.PutUint32(b[28:], 1<<30) },
		"id order": func(b []byte) { binary.LittleEndian.PutUint64(b[32:], 1<<40) },
		"NaN value": func(b []byte) {
			binary.LittleEndian.PutUint32(b[32+10*8:], 0x7fc00000)
		},
	}
	for name, mutate := range cases {
		b := bytes.Clone(body)
		mutate(b)
		var back TemplateSet
		if err := back.UnmarshalBinary(resum(b)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := (&TemplateSet{}).UnmarshalBinary(append(resum(append(bytes.Clone(body), 0)), 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing bytes: %v", err)
	}
}

// FuzzUnmarshalTemplateSet feeds arbitrary bytes to the decoder, both as they are and
// with a valid checksum appended so that the fuzzer gets past the checksum into the
// field checks. Whatever decodes must re-encode to a decodable set that can load an
// index and score without panicking.
func FuzzUnmarshalTemplateSet(f *testing.F) {
	owner := newTypist(14, 4)
	ts, _ := trainedSet(f, owner, Config{EnrollmentSize: 4}, 4)
	data, _ := ts.MarshalBinary()
	f.Add(data)
	f.Add(data[:len(data)-4])
	enrolling, _ := NewTemplateSet(ModalityFreeText, Config{})
	data, _ = enrolling.MarshalBinary()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.Checksum(data, crcTable))} {
			ts, _ := NewTemplateSet(ModalityKeystroke, Config{EnrollmentSize: 2, MaxTemplates: 8})
			if err := ts.UnmarshalBinary(in); err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error not ErrCorrupt: %v", err)
				}
				continue
			}
			out, err := ts.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var again TemplateSet
			if err := again.UnmarshalBinary(out); err != nil {
				t.Fatalf("re-encoded set does not decode: %v", err)
			}
			if !ts.Ready() {
				continue
			}
			idx := NewExactSearcher(ts.Dim())
			if err := ts.LoadIndex(idx); err != nil {
				t.Fatal(err)
			}
			var res Result
			_ = ts.Score(Sample{Vec: make([]float32, ts.Dim()), Fingerprint: ts.Fingerprint()}, idx, NewScratch(ts.Dim(), 8), &res)
			if res.Status == StatusScored && !(res.Risk >= 0 && res.Risk <= 1) {
				t.Fatalf("risk %v", res.Risk)
			}
		}
	})
}
