package scoring

import "errors"

// Sentinel errors; callers branch with errors.Is. The score path returns them unwrapped so
// that a refusal costs no allocation.
var (
	// ErrConfig means a Config value is out of range.
	ErrConfig = errors.New("scoring: invalid config")
	// ErrDimension means a vector's length differs from the template set's (or index's).
	ErrDimension = errors.New("scoring: vector dimension mismatch")
	// ErrInvalidSample means a vector holds NaN or infinite values.
	ErrInvalidSample = errors.New("scoring: invalid sample (NaN or infinite)")
	// ErrSequenceMismatch means a keystroke sample's key sequence differs from the field's
	// reference sequence.
	ErrSequenceMismatch = errors.New("scoring: key sequence differs from the field's reference")
	// ErrReplayed means the sample repeats one seen before.
	ErrReplayed = errors.New("scoring: replayed sample")
	// ErrMachineTiming means the sample's timing is too regular for a person.
	ErrMachineTiming = errors.New("scoring: implausibly regular timing")
	// ErrNotTrained means the template set has not finished enrollment and training.
	ErrNotTrained = errors.New("scoring: template set not trained")
	// ErrAlreadyTrained means enrollment is over; use AddGenuine to adapt.
	ErrAlreadyTrained = errors.New("scoring: template set already trained")
	// ErrNotEnoughSamples means training was asked for with fewer samples than needed.
	ErrNotEnoughSamples = errors.New("scoring: not enough samples")
	// ErrIndex means the nearest-neighbour index failed or returned nothing usable.
	ErrIndex = errors.New("scoring: index unavailable")
	// ErrScratch means the caller's scratch buffers are too small.
	ErrScratch = errors.New("scoring: scratch too small")
	// ErrCorrupt means serialized data cannot be decoded.
	ErrCorrupt = errors.New("scoring: corrupt data")
)
