package tandem

import (
	"fmt"
	"sort"
	"strings"
)

// RoleRule is a role's gang rule in a unit: at least MinInstances whole
// instances of Size pods.
type RoleRule struct {
	Role         string
	Size         int
	MinInstances int
}

// Member is one pod of a unit as the plugin sees it.
type Member struct {
	Role, Instance string
	// Node is where it runs or is allocated in this session; "" if nowhere.
	Node string
}

// RolesReady reports whether the placed members make every role reach its
// minimum of whole instances, and if not, which role falls short.
func RolesReady(rules []RoleRule, placed []Member) (bool, string) {
	perInstance := map[string]map[string]int{} // role -> instance -> pods placed
	for _, m := range placed {
		if perInstance[m.Role] == nil {
			perInstance[m.Role] = map[string]int{}
		}
		perInstance[m.Role][m.Instance]++
	}
	var short []string
	for _, r := range rules {
		whole := 0
		for _, n := range perInstance[r.Role] {
			if n >= r.Size {
				whole++
			}
		}
		if whole < r.MinInstances {
			short = append(short, fmt.Sprintf("%s has %d of %d whole instances", r.Role, whole, r.MinInstances))
		}
	}
	sort.Strings(short)
	return len(short) == 0, strings.Join(short, "; ")
}
