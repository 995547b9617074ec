package tandem

// Topology is the HyperNode tree seen from the nodes: for every node, the
// HyperNode holding it at each tier. It is built once per session and only
// read afterwards.
type Topology struct {
	// ancestors[node][tier] is the HyperNode of that tier holding node.
	ancestors map[string]map[int]string
	// members[hn] are the nodes under HyperNode hn.
	members map[string][]string
	maxTier int
}

// NewTopology builds the view from, per tier, each HyperNode's real
// (leaf) nodes — Volcano's HyperNodesSetByTier and RealNodesSet.
func NewTopology(members map[int]map[string][]string) *Topology {
	t := &Topology{ancestors: map[string]map[int]string{}, members: map[string][]string{}}
	for tier, hyperNodes := range members {
		if tier > t.maxTier {
			t.maxTier = tier
		}
		for hn, nodes := range hyperNodes {
			t.members[hn] = nodes
			for _, n := range nodes {
				if t.ancestors[n] == nil {
					t.ancestors[n] = map[int]string{}
				}
				t.ancestors[n][tier] = hn
			}
		}
	}
	return t
}

// MaxTier is the highest tier known; 0 when there are no HyperNodes.
func (t *Topology) MaxTier() int { return t.maxTier }

// Domain returns the HyperNode of the given tier holding node, or "".
func (t *Topology) Domain(node string, tier int) string { return t.ancestors[node][tier] }

// Members returns the nodes under HyperNode hn.
func (t *Topology) Members(hn string) []string { return t.members[hn] }

// Distance is the lowest tier at which a and b share a HyperNode: 0 for
// the same node, MaxTier()+1 when nothing holds both. KV cache and
// tensor-parallel traffic between the two crosses that tier's fabric.
func (t *Topology) Distance(a, b string) int {
	if a == b {
		return 0
	}
	up, down := t.ancestors[a], t.ancestors[b]
	for tier := 1; tier <= t.maxTier; tier++ {
		if hn, ok := up[tier]; ok && hn == down[tier] {
			return tier
		}
	}
	return t.maxTier + 1
}
