package persistence_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/behaviorauth/engine/persistence"
)

func engTemplate(key string, samples int, data string) persistence.Template {
	t := persistence.Template{Key: key, Modality: "keystroke", Samples: samples, Enrolled: samples >= 10,
		Threshold: 0.3, SeqFingerprint: engPtr(int64(-42)), Data: []byte(data)}
	if key == "pointer" {
		t.Modality, t.SeqFingerprint = "pointer", nil
	}
	return t
}

// engSameTemplates compares loaded templates with want, ignoring UpdatedAt and reading Threshold as a real.
func engSameTemplates(t *testing.T, got, want []persistence.Template) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d templates, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.UpdatedAt.IsZero() {
			t.Errorf("template %q: no updated_at", g.Key)
		}
		g.UpdatedAt = time.Time{}
		w.Threshold = float64(float32(w.Threshold))
		if !reflect.DeepEqual(g, w) {
			t.Errorf("template %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestProfilesLoadEmpty(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	p := persistence.NewProfiles(db.pool)

	for _, id := range []string{db.userID, engRandomUUID()} {
		prof, err := p.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if prof.UserID != id || prof.Version != 0 || len(prof.Templates) != 0 {
			t.Fatalf("empty profile: %+v", prof)
		}
	}
	if _, err := p.Load(ctx, "nope"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("malformed id: %v, want ErrNotFound", err)
	}
}

func TestProfilesOptimisticVersions(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	p := persistence.NewProfiles(db.pool)
	user := db.userID

	payee, pointer := engTemplate("kf:payee", 5, "payee-5"), engTemplate("pointer", 40, "pointer-40")
	v, err := p.SaveTemplates(ctx, user, []persistence.Template{pointer, payee})
	if err != nil || v != 1 {
		t.Fatalf("first save: version %d, %v", v, err)
	}
	prof, err := p.Load(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	payee.Version, pointer.Version = 1, 1
	if prof.Version != 1 {
		t.Fatalf("profile version %d, want 1", prof.Version)
	}
	engSameTemplates(t, prof.Templates, []persistence.Template{payee, pointer})

	// A writer that loaded nothing (version 0) but now finds a stored, different template is refused, and
	// nothing of its save is written.
	stale := engTemplate("kf:payee", 6, "payee-6-other-writer")
	fresh := engTemplate("kf:amount", 1, "amount-1")
	if _, err := p.SaveTemplates(ctx, user, []persistence.Template{fresh, stale}); !errors.Is(err,
		persistence.ErrConflict) {
		t.Fatalf("stale save: %v, want ErrConflict", err)
	}
	if prof, _ := p.Load(ctx, user); prof.Version != 1 || len(prof.Templates) != 2 {
		t.Fatalf("a refused save changed the profile: %+v", prof)
	}

	// Retrying the first save (a commit whose answer was lost) finds its own content and succeeds.
	retry := []persistence.Template{engTemplate("pointer", 40, "pointer-40"), engTemplate("kf:payee", 5, "payee-5")}
	if v, err := p.SaveTemplates(ctx, user, retry); err != nil || v != 2 {
		t.Fatalf("retried save: version %d, %v", v, err)
	}

	// The owner updates one key at the version it holds; the other key keeps its version.
	payee = engTemplate("kf:payee", 6, "payee-6")
	payee.Version = 2
	if v, err := p.SaveTemplates(ctx, user, []persistence.Template{payee}); err != nil || v != 3 {
		t.Fatalf("update: version %d, %v", v, err)
	}
	prof, err = p.Load(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	payee.Version, pointer.Version = 3, 2
	if prof.Version != 3 {
		t.Fatalf("profile version %d, want 3", prof.Version)
	}
	engSameTemplates(t, prof.Templates, []persistence.Template{payee, pointer})

	// Saving at a version that is no longer current is refused.
	payee.Version = 2
	payee.Samples = 7
	if _, err := p.SaveTemplates(ctx, user, []persistence.Template{payee}); !errors.Is(err,
		persistence.ErrConflict) {
		t.Fatalf("old version: %v, want ErrConflict", err)
	}
	// So is a key the caller believes stored but is not.
	ghost := engTemplate("kf:ghost", 1, "g")
	ghost.Version = 2
	if _, err := p.SaveTemplates(ctx, user, []persistence.Template{ghost}); !errors.Is(err,
		persistence.ErrConflict) {
		t.Fatalf("missing key at version 2: %v, want ErrConflict", err)
	}
}

func TestProfilesSaveRefused(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	p := persistence.NewProfiles(db.pool)

	if _, err := p.SaveTemplates(ctx, engRandomUUID(), []persistence.Template{engTemplate("pointer", 1, "x")}); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("unknown user: %v, want ErrNotFound", err)
	}
	tests := []struct {
		name string
		ts   []persistence.Template
	}{
		{"none", nil},
		{"empty key", []persistence.Template{engTemplate("", 1, "x")}},
		{"key twice", []persistence.Template{engTemplate("pointer", 1, "x"), engTemplate("pointer", 2, "y")}},
		{"negative samples", []persistence.Template{engTemplate("pointer", -1, "x")}},
	}
	for _, tt := range tests {
		if _, err := p.SaveTemplates(ctx, db.userID, tt.ts); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if n := db.count(t, `select count(*) from profile_templates`); n != 0 {
		t.Fatalf("%d templates written by refused saves", n)
	}
}

// Two writers that loaded the same version race on one key: exactly one wins.
func TestProfilesConcurrentWriters(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	p := persistence.NewProfiles(db.pool)
	if _, err := p.SaveTemplates(ctx, db.userID, []persistence.Template{engTemplate("pointer", 1, "v1")}); err != nil {
		t.Fatal(err)
	}
	const writers = 4
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tpl := engTemplate("pointer", 2+i, "writer")
			tpl.Version = 1
			_, errs[i] = p.SaveTemplates(ctx, db.userID, []persistence.Template{tpl})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, persistence.ErrConflict):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers won, want 1 (%v)", won, errs)
	}
	if prof, err := p.Load(ctx, db.userID); err != nil || prof.Version != 2 {
		t.Fatalf("after the race: %+v, %v", prof, err)
	}
}
