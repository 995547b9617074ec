// Package peers makes several tandem-router replicas route as one: each
// replica tells the others, every few tens of milliseconds, which prompt
// prefixes it sent to which engine and how much of its own work is open at
// each engine, so that any replica routes the next turn of a conversation
// to the engine that holds its earlier turns, and sees the whole queue.
//
// # Why this design
//
// A Service spreads a conversation's turns over the replicas; each replica's
// prefix index (package prefix) holds only what that replica routed, so
// turns scatter over engines. The options weighed:
//
//   - Engine truth: every replica follows the engines' KV events (the
//     router's exact mode, package kvindex). The events already reach each
//     replica, but exact mode routes worse than the approximate index in
//     our measurements (benchmarks/results/router.md, "exact"): it needs
//     token ids, so a tokenize call on the request path, and it learns a
//     placement only once the engine has computed it, so a burst of turns
//     sent before the first is prefilled still scatters.
//   - A deterministic owner per prefix family (hash the first blocks,
//     forward to the owning replica): one more hop for most requests, a
//     family moves when replicas come and go, and the owner's load view is
//     still partial.
//   - A gossip library (hashicorp/memberlist): membership and failure
//     detection we do not need (the peer set is the router's own headless
//     Service, or a static list) and UDP-sized messages that do not fit an
//     index snapshot.
//   - Chosen: push the index insertions themselves to every peer. An
//     insertion is (endpoint, block-hash chain): exactly what the local
//     index stored, so a peer's index becomes the union of what every
//     replica routed, with the same LRU order and eviction. The hashes are
//     seeded by the model (package prefix), so the model need not be sent.
//
// # The exchange, in steps
//
//  1. Record: each local insertion (prefix.Index.Observe) is appended to a
//     buffer; the request path pays a mutex and a copy of the chain.
//  2. Every Interval (default 25 ms) the buffer becomes one Batch, with
//     this replica's own in-flight, pending and queued-token counters at
//     each endpoint, encoded compactly (wire.go) and POSTed to every peer
//     over HTTP/1.1 keep-alive, one request at a time per peer. A peer
//     that does not keep up loses batches (queueDepth) instead of growing
//     this replica's memory; the next insertions of the same prompts
//     repair what was lost.
//  3. A peer applies a batch with prefix.Index.Learn (not observed, so
//     never echoed) and keeps the batch's loads as that replica's current
//     share. Every Interval the fresh shares (received within TTL, default
//     1 s) are summed into endpoint.Endpoint.Peers, which the scheduling
//     features add to the replica's own counters (schedule.Features.Fill).
//     A silent replica's share drops out after TTL: a replica that left
//     does not keep its requests in everyone's queues.
//  4. A starting replica pulls a whole index (GET SnapshotPath) from the
//     first peer that answers, once it has endpoints to put it in, and
//     imports it in recency order; batches then keep it current.
//  5. Peers come from a static list and/or a DNS name, the router's
//     headless Service, resolved every Resolve (net.LookupHost). An address
//     that answers with this replica's own id (ReplicaHeader) is dropped,
//     so every replica can share one list or Service.
//
// # Failure
//
// Nothing on the request path waits for a peer. A partitioned replica
// routes on its own knowledge, as a lone replica does: the peers' shares
// of load expire after TTL, the learned blocks age out of the LRU like any
// others, and a failed push is counted (tandem_router_peer_batches_total)
// and forgotten.
//
// # Trust
//
// The exchange listens on its own port (peers.address), never the API's.
// With peers.tokenFile set, every batch and snapshot request must carry
// "Authorization: Bearer <token>" with the file's content (a Secret mounted
// into every replica); without it the port must be reachable only from
// the replicas (deploy/router's NetworkPolicy). A forged batch could only
// bias routing, not reach an engine or a client.
//
// # Cost
//
// A batch carries 8 bytes per block of every routed prompt, so at R
// requests a second of B blocks each, about 8·R·B bytes a second to each
// peer; the receiver does the LRU work the sender did. The benchmark note
// (benchmarks/results/router.md, "Replicas") gives the measured CPU.
package peers
