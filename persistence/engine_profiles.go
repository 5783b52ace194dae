package persistence

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Profiles stores each user's learned profile: one template set per field or modality key, with its enrollment
// state and threshold. Indexes are not stored: they are rebuilt from the templates.
type Profiles struct {
	pool *pgxpool.Pool
}

// NewProfiles returns a Profiles store on pool.
func NewProfiles(pool *pgxpool.Pool) *Profiles {
	return &Profiles{pool: pool}
}

// Profile is a user's profile as last saved.
type Profile struct {
	UserID string
	// Version counts the saves of the profile's templates; 0 for a user with none.
	Version int64
	// Templates are ordered by key.
	Templates []Template
}

// Template is the learned template set of one field or modality key.
type Template struct {
	// Key names the field or modality ("kf:payee", "pointer").
	Key      string
	Modality string
	// Samples counts the samples the template learned from.
	Samples  int
	Enrolled bool
	// Threshold is the adaptive threshold, stored as real (float32 precision).
	Threshold float64
	// SeqFingerprint is a hash of a fixed field's key sequence (never the codes), nil for other modalities.
	SeqFingerprint *int64
	// Data is the template set as the scoring package encodes it; the store does not look inside.
	Data []byte
	// Version is the profile version at which the template was last written. On save, it must be the version the
	// caller loaded (0 for a key new to the profile).
	Version int64
	// UpdatedAt is set by the store.
	UpdatedAt time.Time
}

// Load returns a user's profile; a user with no saved templates has an empty profile at version 0 (no error).
func (p *Profiles) Load(ctx context.Context, userID string) (Profile, error) {
	uid, err := engUUID("user id", userID)
	if err != nil {
		return Profile{}, err
	}
	rows, err := p.pool.Query(ctx, `
		select p.version, t.key, t.modality, t.samples, t.enrolled, t.threshold, t.seq_fingerprint, t.template,
			t.version, t.updated_at
		from profiles p left join profile_templates t on t.user_id = p.user_id
		where p.user_id = $1 order by t.key`, uid)
	if err != nil {
		return Profile{}, engWrap("load profile", err)
	}
	defer rows.Close()
	prof := Profile{UserID: userID}
	for rows.Next() {
		var (
			key, modality *string
			samples       *int32
			enrolled      *bool
			threshold     *float32
			fingerprint   *int64
			data          []byte
			version       *int64
			updatedAt     *time.Time
		)
		if err := rows.Scan(&prof.Version, &key, &modality, &samples, &enrolled, &threshold, &fingerprint, &data,
			&version, &updatedAt); err != nil {
			return Profile{}, engWrap("load profile", err)
		}
		if key == nil { // a profile row without templates
			continue
		}
		prof.Templates = append(prof.Templates, Template{
			Key: *key, Modality: *modality, Samples: int(*samples), Enrolled: *enrolled,
			Threshold: float64(*threshold), SeqFingerprint: fingerprint, Data: data, Version: *version,
			UpdatedAt: *updatedAt,
		})
	}
	if err := rows.Err(); err != nil {
		return Profile{}, engWrap("load profile", err)
	}
	return prof, nil
}

// SaveTemplates writes ts in one transaction and returns the profile's new version, which every template of ts
// now carries. Each template must be at the version the caller loaded (0 for a new key); if another writer changed
// one since, nothing is written and the error wraps ErrConflict. A template already stored with the same content
// counts as current, so retrying a save that timed out after its commit succeeds (and bumps the version again).
// ErrNotFound for an unknown user.
func (p *Profiles) SaveTemplates(ctx context.Context, userID string, ts []Template) (int64, error) {
	uid, err := engUUID("user id", userID)
	if err != nil {
		return 0, err
	}
	if len(ts) == 0 {
		return 0, fmt.Errorf("persistence: save templates of %s: no templates", userID)
	}
	n := len(ts)
	keys := make([]string, n)
	modalities := make([]string, n)
	samples := make([]int32, n)
	enrolled := make([]bool, n)
	thresholds := make([]float32, n)
	fingerprints := make([]*int64, n)
	datas := make([][]byte, n)
	byKey := make(map[string]int, n)
	for i, t := range ts {
		if t.Key == "" {
			return 0, fmt.Errorf("persistence: save templates of %s: empty key", userID)
		}
		if _, dup := byKey[t.Key]; dup {
			return 0, fmt.Errorf("persistence: save templates of %s: key %q twice", userID, t.Key)
		}
		if t.Samples < 0 || t.Samples > math.MaxInt32 {
			return 0, fmt.Errorf("persistence: save templates of %s: %q has %d samples", userID, t.Key, t.Samples)
		}
		if math.IsNaN(t.Threshold) || math.IsInf(t.Threshold, 0) {
			return 0, fmt.Errorf("persistence: save templates of %s: %q threshold %v", userID, t.Key, t.Threshold)
		}
		byKey[t.Key] = i
		keys[i], modalities[i], samples[i], enrolled[i] = t.Key, t.Modality, int32(t.Samples), t.Enrolled
		thresholds[i], fingerprints[i], datas[i] = float32(t.Threshold), t.SeqFingerprint, t.Data
		if datas[i] == nil {
			datas[i] = []byte{}
		}
	}

	var newVersion int64
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `insert into profiles (user_id) values ($1) on conflict do nothing`, uid); err != nil {
			return engWrap("save templates", err)
		}
		// The row lock serializes the writers of one profile, so the version check below cannot race.
		var version int64
		if err := tx.QueryRow(ctx, `select version from profiles where user_id = $1 for update`, uid).
			Scan(&version); err != nil {
			return engWrap("save templates", err)
		}
		rows, err := tx.Query(ctx, `select key, modality, samples, enrolled, threshold, seq_fingerprint, template,
			version from profile_templates where user_id = $1 and key = any($2)`, uid, keys)
		if err != nil {
			return engWrap("save templates", err)
		}
		stored := map[string]bool{}
		for rows.Next() {
			var (
				key, modality string
				smp           int32
				enr           bool
				thr           float32
				fp            *int64
				data          []byte
				ver           int64
			)
			if err := rows.Scan(&key, &modality, &smp, &enr, &thr, &fp, &data, &ver); err != nil {
				rows.Close()
				return engWrap("save templates", err)
			}
			stored[key] = true
			i := byKey[key]
			if ver == ts[i].Version {
				continue
			}
			same := modality == modalities[i] && smp == samples[i] && enr == enrolled[i] && thr == thresholds[i] &&
				engEqualInt64Ptr(fp, fingerprints[i]) && bytes.Equal(data, datas[i])
			if !same {
				rows.Close()
				return fmt.Errorf("persistence: save templates of %s: %q is at version %d, not %d: %w",
					userID, key, ver, ts[i].Version, ErrConflict)
			}
		}
		if err := rows.Err(); err != nil {
			return engWrap("save templates", err)
		}
		for _, t := range ts {
			if !stored[t.Key] && t.Version != 0 {
				return fmt.Errorf("persistence: save templates of %s: %q expected at version %d is not stored: %w",
					userID, t.Key, t.Version, ErrConflict)
			}
		}
		newVersion = version + 1
		if _, err := tx.Exec(ctx, `update profiles set version = $2, updated_at = now() where user_id = $1`,
			uid, newVersion); err != nil {
			return engWrap("save templates", err)
		}
		if _, err := tx.Exec(ctx, `
			insert into profile_templates (user_id, key, modality, samples, enrolled, threshold, seq_fingerprint,
				template, version, updated_at)
			select $1, t.key, t.modality, t.samples, t.enrolled, t.threshold, t.fp, t.template, $9, now()
			from unnest($2::text[], $3::text[], $4::int[], $5::bool[], $6::real[], $7::bigint[], $8::bytea[])
				as t(key, modality, samples, enrolled, threshold, fp, template)
			on conflict (user_id, key) do update set modality = excluded.modality, samples = excluded.samples,
				enrolled = excluded.enrolled, threshold = excluded.threshold,
				seq_fingerprint = excluded.seq_fingerprint, template = excluded.template,
				version = excluded.version, updated_at = excluded.updated_at`,
			uid, keys, modalities, samples, enrolled, thresholds, fingerprints, datas, newVersion); err != nil {
			return engWrap("save templates", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return newVersion, nil
}

func engEqualInt64Ptr(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
