package flow

import "math"

// Lane is the part of a model's endpoints a request may be sent to
// (doc.go, "Quiet endpoints").
type Lane int8

const (
	// LaneAll is every endpoint: no tenant is both over its share and
	// beside one within it, or the quiet endpoints are full.
	LaneAll Lane = iota
	// LaneQuiet is the first Subset.Quiet endpoints, kept for tenants
	// within their share.
	LaneQuiet
	// LaneBusy is the others, for tenants over their share.
	LaneBusy
)

// Subset names a lane of a model's endpoints: the first Quiet of them,
// in the pool's order (by name, so every replica agrees), are the quiet
// lane.
type Subset struct {
	Lane  Lane
	Quiet int
}

// Of is the lane's part of eps. A busy lane left with nothing (the pool
// shrank under it) is all of eps, so no request is stranded.
func Of[T any](eps []T, s Subset) []T {
	q := min(s.Quiet, len(eps))
	switch {
	case s.Lane == LaneQuiet && q > 0:
		return eps[:q]
	case s.Lane == LaneBusy && q < len(eps):
		return eps[q:]
	}
	return eps
}

// Reserve is how many of n endpoints to keep quiet while tenants within
// their share (within of tenants active) hold frac of the requests in
// flight beside tenants over it: enough that a quiet endpoint carries
// 1/factor of a busy one's requests (k/n = factor·frac / (1 − frac +
// factor·frac)), at least one, at most the within-share tenants' even
// share of the endpoints and never all of them. 0 when factor is 0, no
// tenant is within its share, or none is over it.
func Reserve(n int, frac, factor float64, within, tenants int) int {
	if factor <= 0 || within == 0 || within >= tenants || n < 2 {
		return 0
	}
	k := int(math.Ceil(factor * frac * float64(n) / (1 - frac + factor*frac)))
	return max(1, min(k, n*within/tenants, n-1))
}
