package sim

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/kv"
	"github.com/tandem-serving/tandem/router/kvevents"
)

// DefaultKVEventsTopic is the topic engines publish KV events under, the
// one vLLM's subscriber example listens to.
const DefaultKVEventsTopic = "kv-events"

// eventBatch turns one engine step's prefix-cache changes into a vLLM
// EventBatch, grouping as vLLM does: consecutive stored blocks of one chain
// become one BlockStored (parent of the first, every block's tokens),
// consecutive evictions one BlockRemoved. A chain's first block has the
// model's seed as parent internally and no parent on the wire.
func eventBatch(now time.Time, seed uint64, blockSize int, evs []kv.Event) kvevents.Batch {
	rank := int64(0)
	b := kvevents.Batch{TS: float64(now.UnixNano()) / 1e9, DataParallelRank: &rank}
	var last *kvevents.Event
	for _, ev := range evs {
		switch ev.Kind {
		case kv.Stored:
			chained := last != nil && last.Kind == kvevents.BlockStored &&
				last.BlockHashes[len(last.BlockHashes)-1] == ev.Parent
			if !chained {
				e := kvevents.Event{Kind: kvevents.BlockStored, BlockSize: blockSize, Medium: kvevents.MediumGPU}
				if ev.Parent != seed {
					parent := ev.Parent
					e.ParentBlockHash = &parent
				}
				b.Events = append(b.Events, e)
			}
			last = &b.Events[len(b.Events)-1]
			last.BlockHashes = append(last.BlockHashes, ev.Hash)
			last.TokenIDs = append(last.TokenIDs, ev.Tokens...)
		case kv.Removed:
			if last == nil || last.Kind != kvevents.BlockRemoved {
				b.Events = append(b.Events, kvevents.Event{Kind: kvevents.BlockRemoved, Medium: kvevents.MediumGPU})
			}
			last = &b.Events[len(b.Events)-1]
			last.BlockHashes = append(last.BlockHashes, ev.Hash)
		case kv.Cleared:
			b.Events = append(b.Events, kvevents.Event{Kind: kvevents.AllBlocksCleared})
			last = &b.Events[len(b.Events)-1]
		}
	}
	return b
}

// offsetEndpoint gives engine i of a fleet its own KV events endpoint: the
// port plus i, as vLLM offsets its endpoint by data-parallel rank. Port 0
// (or *) stays: every engine gets a free port.
func offsetEndpoint(endpoint string, i int) (string, error) {
	scheme, hostPort, ok := strings.Cut(endpoint, "://")
	if !ok || scheme != "tcp" {
		return "", fmt.Errorf("KV events endpoint %q: want tcp://host:port", endpoint)
	}
	host, portText, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", fmt.Errorf("KV events endpoint %q: %w", endpoint, err)
	}
	if portText == "*" || portText == "0" {
		return endpoint, nil
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port+i > 65535 {
		return "", fmt.Errorf("KV events endpoint %q: bad port for engine %d", endpoint, i)
	}
	return "tcp://" + net.JoinHostPort(host, strconv.Itoa(port+i)), nil
}
