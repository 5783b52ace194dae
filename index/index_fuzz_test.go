package index

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzDeserialize feeds arbitrary bytes to Deserialize: it must return an
// error wrapping ErrCorrupt or an index that works and serializes back to the
// same bytes; it must never crash. The seed corpus in
// testdata/fuzz/FuzzDeserialize holds real serialized indexes of every kind
// (files named valid_*) and damaged ones.
func FuzzDeserialize(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := Deserialize(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		defer x.Close()
		exercise(t, x, b)
	})
}

// TestFuzzSeedsValid keeps the committed seeds meaningful: the valid_* seeds
// must still deserialize, so the fuzzer starts from inputs that reach FAISS.
func TestFuzzSeedsValid(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDeserialize")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[Kind]bool{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "valid_") {
			continue
		}
		b := readSeed(t, filepath.Join(dir, e.Name()))
		x, err := Deserialize(b)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		kinds[x.Kind()] = true
		x.Close()
	}
	if len(kinds) != 3 {
		t.Fatalf("valid seeds cover kinds %v, want all three", kinds)
	}
}

// readSeed parses a corpus file of the form `go test fuzz v1` + `[]byte("...")`.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
		!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		t.Fatalf("%s: not a one-value fuzz corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
