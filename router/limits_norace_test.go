//go:build !race

package router

// idleConns is TestManyIdleConnections' count: the 10,000.
const idleConns = 10000
