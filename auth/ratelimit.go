package auth

import (
	"context"
	"fmt"
	"time"
)

// Operations, each with its own rate-limit windows.
const (
	opRegister = "register"
	opLogin    = "login"
	opRefresh  = "refresh"
	opMPIN     = "mpin"
)

// limit counts one request of op from c (and, when account is not empty, naming account) and refuses it with
// *RateLimitedError when a window is over its limit. Every request counts, refused ones included, so a client
// that keeps hammering stays limited. The estimate is a sliding window: the previous fixed window's count,
// weighed by how much of it still overlaps the last RateWindow, plus the current window's.
func (s *Service) limit(ctx context.Context, op string, c Client, account string, userID string) error {
	now := s.now()
	w := s.cfg.RateWindow
	start := now.Truncate(w)
	keys := []string{op + "|addr|" + c.Addr}
	limits := []int{s.cfg.RatePerAddress}
	scopes := []string{"address"}
	if account != "" {
		keys = append(keys, op+"|acct|"+account)
		limits = append(limits, s.cfg.RatePerAccount)
		scopes = append(scopes, "account")
	}
	hits, err := s.store.HitRate(ctx, keys, start, start.Add(-w))
	if err != nil {
		return fmt.Errorf("auth: rate limit: %w", err)
	}
	s.cleanRateWindows(ctx, now)
	elapsed := now.Sub(start)
	for i, h := range hits {
		est := estimate(h.Previous, h.Current, elapsed, w)
		if est <= float64(limits[i]) {
			continue
		}
		// Audit the first refusal of a burst only, so that a flood does not flood the trail too.
		if estimate(h.Previous, h.Current-1, elapsed, w) <= float64(limits[i]) {
			s.audit(ctx, Event{Kind: op, UserID: userID, Outcome: OutcomeRateLimited, Client: c,
				Detail: map[string]any{"scope": scopes[i], "limit": limits[i], "window_s": w.Seconds()}})
		}
		return &RateLimitedError{Scope: scopes[i], RetryAfter: retryAfter(h.Previous, h.Current, limits[i], elapsed, w)}
	}
	return nil
}

// estimate is the sliding-window count: prev weighed by the part of the previous window still inside the last w.
func estimate(prev, cur int, elapsed, w time.Duration) float64 {
	return float64(prev)*(1-float64(elapsed)/float64(w)) + float64(cur)
}

// retryAfter is how long until one more request would be allowed, if none came meanwhile: later in this window
// once the previous window's weight has decayed enough, or else in the next window once this one's has.
func retryAfter(prev, cur, limit int, elapsed, w time.Duration) time.Duration {
	W := float64(w)
	e := float64(elapsed)
	if cur+1 <= limit && prev > 0 {
		// prev·(1 − (e+d)/W) + cur + 1 ≤ limit
		d := W*(1-float64(limit-cur-1)/float64(prev)) - e
		if d <= W-e {
			return ceilSecond(time.Duration(max(d, 0)))
		}
	}
	// Next window: cur·(1 − e'/W) + 1 ≤ limit.
	var e2 float64
	if cur > limit-1 {
		e2 = W * (1 - float64(limit-1)/float64(cur))
	}
	return ceilSecond(time.Duration(W - e + e2))
}

// ceilSecond rounds d up to a whole second, at least one: the unit of Retry-After.
func ceilSecond(d time.Duration) time.Duration {
	return time.Duration(Seconds(d)) * time.Second
}

// cleanRateWindows deletes windows that no longer count (older than the previous one), at most once per window
// per node. A failure only costs disk; it is logged.
func (s *Service) cleanRateWindows(ctx context.Context, now time.Time) {
	last := s.lastClean.Load()
	if now.UnixNano()-last < int64(s.cfg.RateWindow) || !s.lastClean.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	n, err := s.store.DeleteRateWindows(ctx, now.Truncate(s.cfg.RateWindow).Add(-s.cfg.RateWindow))
	if err != nil {
		s.log.WarnContext(ctx, "rate windows not cleaned", "err", err)
		return
	}
	if n > 0 {
		s.log.DebugContext(ctx, "rate windows cleaned", "deleted", n)
	}
}
