// Package scoring is the detector: it keeps a user's template set per fixed-text field or
// modality, scores behavioral samples against it, and turns scores into risks.
//
// A sample's raw distance combines two views of the templates:
//
//   - the scaled Manhattan distance of Killourhy and Maxion (2009), the best of the
//     detectors they compared on the CMU keystroke benchmark: per dimension,
//     |x - mean| / (mean absolute deviation), here with each dimension's share capped
//     (Config.ManhattanCap) so that one hesitation cannot dominate;
//   - the mean L2 distance to the k nearest templates in the user's standardized space
//     (per-dimension z-scores, clipped by Config.ZClip), searched through a Searcher: the
//     FAISS index of package index in production, ExactSearcher in pure Go.
//
// Each component is divided by its median leave-one-out value over the enrollment
// templates and the two are mixed (Config.NeighborWeight). The raw distance is then
// calibrated through the distribution of the same leave-one-out distances, so that a
// risk of 0 is typical of the owner, the owner's own samples spread over [0, 1), and 1
// is far outside; the user's threshold is a quantile of that distribution
// (Config.ThresholdQuantile). On synthetic data in the benchmark's layout (scoring/cmu,
// behaviorctl eval) the combination roughly halves the equal-error rate of plain scaled
// Manhattan.
//
// Around the distance: a ReplayGuard spots exact repeats of earlier samples, MachineTiming
// spots implausibly regular timing, FraudSet measures proximity to vectors labeled
// fraud, and Fusion folds a session's sample risks into one session risk. Results carry
// snake_case Reason codes. A TemplateSet serializes to a compact, checksummed binary
// form (MarshalBinary / UnmarshalBinary).
//
// The score path (TemplateSet.Score with a Scratch) does not allocate. Nothing here is
// safe for concurrent use: each template set and scratch belongs to one actor.
package scoring
