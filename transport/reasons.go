package transport

import "strings"

// reasonText is the human text of each reason code: the wire's `reasons` carries these texts (as PROTOCOL.md's
// example does), and `reason_codes` the codes themselves, for programs.
var reasonText = map[string]string{
	"keystroke_timing_close": "keystroke timing close to profile",
	"keystroke_timing_far":   "keystroke timing far from profile",
	"free_text_timing_close": "typing rhythm close to profile",
	"free_text_timing_far":   "typing rhythm far from profile",
	"pointer_pattern_close":  "pointer movement close to profile",
	"pointer_pattern_far":    "pointer movement far from profile",
	"touch_pattern_close":    "touch movement close to profile",
	"touch_pattern_far":      "touch movement far from profile",
	"motion_pattern_close":   "device motion close to profile",
	"motion_pattern_far":     "device motion far from profile",
	"replayed_sample":        "sample repeats an earlier one exactly (replay)",
	"machine_regular_timing": "timing too regular for a person",
	"near_known_fraud":       "close to behaviour labeled fraud",
	"not_enough_evidence":    "not enough evidence yet: the field is enrolling",
	"key_sequence_mismatch":  "key sequence differs from the enrolled one",
	"incomplete_keystrokes":  "keystrokes incomplete",
	"challenge_expired":      "step-up not answered in time",
	"profile_unreachable":    "profile unreachable: decision by policy",
	"postgres_unavailable":   "database unavailable: decision by policy",
	"sample_shape_mismatch":  "sample does not match the enrolled shape",
	"sample_invalid":         "sample invalid",
}

// reasonHuman returns the text of a reason code; an unknown code reads as its words.
func reasonHuman(code string) string {
	if t, ok := reasonText[code]; ok {
		return t
	}
	return strings.ReplaceAll(code, "_", " ")
}
