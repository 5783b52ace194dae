package persistence

import "errors"

// ErrNotFound means the row asked for does not exist (or an id is malformed, which cannot name a row).
var ErrNotFound = errors.New("persistence: not found")

// ErrConflict means the write would break a uniqueness or version rule: the row exists already with other
// content, or another writer changed it first. The caller reloads and decides; retrying blindly will not help.
var ErrConflict = errors.New("persistence: conflict")

// ErrInvalidVector means a feature vector is empty, too long, not a whole number of float32s, or has a NaN or
// infinite component: it is refused on write and reported on read instead of reaching an index.
var ErrInvalidVector = errors.New("persistence: invalid vector")

// ErrInvalid means a row breaks the store's rules (a malformed id, a risk outside [0, 1], a bad reason or vector):
// it is refused, and retrying the same row cannot help. Errors that wrap it may wrap ErrInvalidVector or
// ErrNotFound (a malformed id) too.
var ErrInvalid = errors.New("persistence: invalid row")
