package engine

import "testing"

// BenchmarkSteadyStep measures the host cost of one engine step in a steady
// state of 256 running sequences with 1k-token prompts sharing half their
// prefix, each replaced by a new one when it finishes 256 tokens: the
// simulator's own overhead, which bounds how many engines one core drives.
func BenchmarkSteadyStep(b *testing.B) {
	c, err := NewCore(DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	next := uint32(0)
	add := func() {
		next++
		if _, err := c.Add(Request{Prompt: prompt(512, 512, next), MaxTokens: 256, OutputSeed: uint64(next)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 256; i++ {
		add()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := c.Complete(c.Schedule())
		for range out.Finished {
			add()
		}
	}
}
