package features

import "errors"

// Sentinel errors. They are returned unwrapped on the hot path so that reporting them costs
// no allocation; callers branch with errors.Is.
var (
	// ErrIncomplete means a key went down but its up event never arrived, so its hold
	// time (and the latencies that depend on it) is unknown.
	ErrIncomplete = errors.New("features: incomplete sample (key up missing)")
	// ErrOutOfOrder means event times go backwards where the layout needs them ordered
	// (a key released before it was pressed, key presses not in time order, points
	// going back in time).
	ErrOutOfOrder = errors.New("features: events out of order")
	// ErrTooShort means the sample holds too few events to compute its features.
	ErrTooShort = errors.New("features: too few events")
	// ErrTooLong means the sample overflowed the accumulator's fixed capacity.
	ErrTooLong = errors.New("features: too many events")
	// ErrBufferSize means the caller's destination or scratch slice is too short.
	ErrBufferSize = errors.New("features: destination buffer too small")
	// ErrInvalidValue means a time or coordinate is NaN or infinite.
	ErrInvalidValue = errors.New("features: invalid value (NaN or infinite)")
	// ErrNotReady means Flush was called on an accumulator that holds no finished sample.
	ErrNotReady = errors.New("features: no finished sample")
)
