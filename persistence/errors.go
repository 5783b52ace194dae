package persistence

import "errors"

// ErrNotFound means the row asked for does not exist (or an id is malformed, which cannot name a row).
var ErrNotFound = errors.New("persistence: not found")

// ErrConflict means the write would break a uniqueness or version rule: the row exists already with other
// content, or another writer changed it first. The caller reloads and decides; retrying blindly will not help.
var ErrConflict = errors.New("persistence: conflict")
