package actors

import (
	"errors"
	"strconv"
)

var (
	errTooManyFields = errors.New("too many distinct fields in this session")
	errEmptyCommit   = errors.New("commit of a field with no key events since its last commit")
)

// fuseKeep is how many recent sample scores the session risk is fused from.
const fuseKeep = 6

// fuseAlpha weighs the newest score in the exponentially weighted fusion: one far sample alone moves the risk
// about halfway, two or three in a row reach it. A single odd sample is weak evidence; a run of them is strong.
const fuseAlpha = 0.6

// fuseAppend keeps the last fuseKeep scores, oldest first.
func fuseAppend(scores []float64, s float64) []float64 {
	scores = append(scores, s)
	if over := len(scores) - fuseKeep; over > 0 {
		scores = append(scores[:0], scores[over:]...)
	}
	return scores
}

// fuse is the exponentially weighted mean of the recent scores, newest weighted most, in [0, 1].
func fuse(scores []float64) float64 {
	if len(scores) == 0 {
		return 0
	}
	r := scores[0]
	for _, s := range scores[1:] {
		r = fuseAlpha*s + (1-fuseAlpha)*r
	}
	return min(max(r, 0), 1)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
