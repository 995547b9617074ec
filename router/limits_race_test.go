//go:build race

package router

// idleConns is TestManyIdleConnections' count under the race detector,
// which dies past 8,128 live goroutines (a server connection is one).
const idleConns = 1000
