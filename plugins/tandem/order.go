package tandem

// JobKind tells serving units from everything else.
type JobKind struct {
	Serving  bool
	Priority int32
}

// ServingFirst orders a serving unit ahead of a batch job of the same or
// lower priority: -1 when l goes first, 1 when r does, 0 to leave the order
// to the other plugins (both serving, both batch, or the batch job has the
// higher priority).
func ServingFirst(l, r JobKind) int {
	switch {
	case l.Serving && !r.Serving && l.Priority >= r.Priority:
		return -1
	case r.Serving && !l.Serving && r.Priority >= l.Priority:
		return 1
	}
	return 0
}
