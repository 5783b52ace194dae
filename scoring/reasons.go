package scoring

// Reason is a machine-readable explanation attached to a scored sample. The transport
// turns it into the wire's human text.
type Reason string

// Reason codes.
const (
	ReasonKeystrokeTimingClose = Reason("keystroke_timing_close")
	ReasonKeystrokeTimingFar   = Reason("keystroke_timing_far")
	ReasonFreeTextTimingClose  = Reason("free_text_timing_close")
	ReasonFreeTextTimingFar    = Reason("free_text_timing_far")
	ReasonPointerPatternClose  = Reason("pointer_pattern_close")
	ReasonPointerPatternFar    = Reason("pointer_pattern_far")
	ReasonTouchPatternClose    = Reason("touch_pattern_close")
	ReasonTouchPatternFar      = Reason("touch_pattern_far")
	ReasonMotionPatternClose   = Reason("motion_pattern_close")
	ReasonMotionPatternFar     = Reason("motion_pattern_far")
	ReasonReplayedSample       = Reason("replayed_sample")
	ReasonMachineRegularTiming = Reason("machine_regular_timing")
	ReasonNearKnownFraud       = Reason("near_known_fraud")
	ReasonNotEnoughEvidence    = Reason("not_enough_evidence")
	ReasonKeySequenceMismatch  = Reason("key_sequence_mismatch")
)

// Modality is the kind of behavior a template set describes.
type Modality uint8

// Modalities. A fixed-text keystroke set belongs to one field (one secret); the others
// describe the user across fields and screens.
const (
	ModalityKeystroke Modality = iota + 1 // fixed-text keystrokes of one field
	ModalityFreeText                      // free-text keystroke statistics
	ModalityPointer                       // mouse or pen runs
	ModalityTouch                         // touch runs
	ModalityMotion                        // motion sensor windows
)

// String returns the modality's wire name.
func (m Modality) String() string {
	switch m {
	case ModalityKeystroke:
		return "keystroke"
	case ModalityFreeText:
		return "free_text"
	case ModalityPointer:
		return "pointer"
	case ModalityTouch:
		return "touch"
	case ModalityMotion:
		return "motion"
	}
	return "unknown"
}

// Valid reports whether m is one of the defined modalities.
func (m Modality) Valid() bool { return m >= ModalityKeystroke && m <= ModalityMotion }

// closeFar returns the modality's pair of distance reasons.
func (m Modality) closeFar() (closeR, farR Reason) {
	switch m {
	case ModalityFreeText:
		return ReasonFreeTextTimingClose, ReasonFreeTextTimingFar
	case ModalityPointer:
		return ReasonPointerPatternClose, ReasonPointerPatternFar
	case ModalityTouch:
		return ReasonTouchPatternClose, ReasonTouchPatternFar
	case ModalityMotion:
		return ReasonMotionPatternClose, ReasonMotionPatternFar
	}
	return ReasonKeystrokeTimingClose, ReasonKeystrokeTimingFar
}

// Status is what became of a sample.
type Status uint8

// Sample statuses.
const (
	// StatusNotEnoughEvidence: the template set is still enrolling; the sample carries no
	// risk.
	StatusNotEnoughEvidence Status = iota
	// StatusScored: Risk is meaningful.
	StatusScored
	// StatusRejected: the sample cannot be compared (its key sequence differs from the
	// field's); it carries no risk.
	StatusRejected
)

// String returns the status as a snake_case word.
func (s Status) String() string {
	switch s {
	case StatusScored:
		return "scored"
	case StatusRejected:
		return "rejected"
	}
	return "not_enough_evidence"
}

const maxReasons = 6

// Result is the outcome of scoring one sample. It is a plain value: the caller keeps one
// and passes it to Score, which fills it without allocating.
type Result struct {
	Status Status
	// Risk is the calibrated distance in [0, 1]: 0 is typical of the owner, the user's
	// own enrollment samples spread over [0, 1), and values near 1 are far outside.
	// Replays and machine-regular timing force it to 1.
	Risk float64
	// Raw is the combined raw distance (scaled Manhattan and neighbour distance, each
	// divided by its typical value for this user).
	Raw float64
	// Manhattan is the scaled Manhattan distance to the template mean.
	Manhattan float64
	// Neighbor is the mean L2 distance to the k nearest templates in the standardized
	// space.
	Neighbor float64
	// RiskThreshold is this user's calibrated threshold: Risk above it is "far".
	RiskThreshold float64

	reasons [maxReasons]Reason
	n       int
}

// Reasons returns the reason codes, most telling first. The slice aliases r.
func (r *Result) Reasons() []Reason { return r.reasons[:r.n] }

// Has reports whether r carries reason c.
func (r *Result) Has(c Reason) bool {
	for _, x := range r.reasons[:r.n] {
		if x == c {
			return true
		}
	}
	return false
}

// AddReason appends c unless r already has it or is full.
func (r *Result) AddReason(c Reason) {
	if r.n < maxReasons && !r.Has(c) {
		r.reasons[r.n] = c
		r.n++
	}
}

// prependReason puts c first (the most telling reason), dropping the last one if full.
func (r *Result) prependReason(c Reason) {
	if r.Has(c) {
		return
	}
	if r.n < maxReasons {
		r.n++
	}
	copy(r.reasons[1:r.n], r.reasons[:r.n-1])
	r.reasons[0] = c
}

// Reset clears r for reuse.
func (r *Result) Reset() { *r = Result{} }
