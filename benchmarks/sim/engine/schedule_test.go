package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Scheduler tests use 4-token blocks so that memory fits in a head.
func smallParams() Params {
	return Params{
		Model:            "test",
		BlockSize:        4,
		NumBlocks:        64,
		MaxNumSeqs:       8,
		MaxBatchedTokens: 64,
		MaxModelLen:      1024,
		PrefixCaching:    true,
		Cost: CostModel{
			StepOverhead:      time.Millisecond,
			PrefillPerToken:   10 * time.Microsecond,
			DecodePerSeq:      100 * time.Microsecond,
			KVReadPerToken:    time.Microsecond,
			KVBytesPerToken:   1000,
			TransferBandwidth: 1e6, // 1 ms per token
			TransferLatency:   time.Millisecond,
		},
	}
}

// prompt returns shared tokens 1..shared followed by unique tokens of tag.
func prompt(shared, unique int, tag uint32) []uint32 {
	out := make([]uint32, 0, shared+unique)
	for i := 0; i < shared; i++ {
		out = append(out, uint32(i+1))
	}
	for i := 0; i < unique; i++ {
		out = append(out, tag<<16|uint32(i))
	}
	return out
}

type arrival struct {
	step int // added before this step's Schedule (0-based)
	name string
	req  Request
}

// run drives a core for n steps and describes each step in one line:
// "A+8 B+1d | preempt C | transfer D | run 2 wait 1 free 10".
// "+N" is a prefill of N tokens, "+1d" a decode, "*" marks a first token and
// "!" a finished sequence.
func run(t *testing.T, p Params, arrivals []arrival, n int) ([]string, map[string]*Seq, *Core) {
	t.Helper()
	c, err := NewCore(p)
	if err != nil {
		t.Fatal(err)
	}
	names := map[*Seq]string{}
	seqs := map[string]*Seq{}
	var lines []string
	for step := 0; step < n; step++ {
		for _, a := range arrivals {
			if a.step == step {
				s, err := c.Add(a.req)
				if err != nil {
					t.Fatalf("add %s: %v", a.name, err)
				}
				names[s], seqs[a.name] = a.name, s
			}
		}
		plan := c.Schedule()
		var parts []string
		for _, it := range plan.Items {
			kind := ""
			if !it.Prefill {
				kind = "d"
			}
			parts = append(parts, fmt.Sprintf("%s+%d%s", names[it.Seq], it.Tokens, kind))
		}
		out := c.Complete(plan)
		for i, it := range plan.Items {
			for _, s := range out.Tokens {
				if s == it.Seq && s.NumOutput() == 1 {
					parts[i] += "*"
				}
			}
			for _, s := range out.Finished {
				if s == it.Seq {
					parts[i] += "!"
				}
			}
		}
		for _, s := range plan.Preempted {
			parts = append(parts, "preempt "+names[s])
		}
		for _, s := range plan.Transfers {
			parts = append(parts, "transfer "+names[s])
		}
		parts = append(parts, fmt.Sprintf("run %d wait %d free %d", c.NumRunning(), c.NumWaiting(), c.pool.NumFree()))
		lines = append(lines, strings.Join(parts, " | "))
		if plan.Empty() {
			if at, ok := c.NextReady(); ok {
				c.Advance(at - c.Now())
			}
		}
	}
	return lines, seqs, c
}

func req(promptTokens []uint32, maxTokens int) Request {
	return Request{Prompt: promptTokens, MaxTokens: maxTokens}
}

func withParams(change func(*Params)) Params {
	p := smallParams()
	change(&p)
	return p
}

var (
	budget8 = withParams(func(p *Params) { p.MaxBatchedTokens = 8 })
	oneSeq  = withParams(func(p *Params) { p.MaxNumSeqs = 1 })
	tiny    = withParams(func(p *Params) { p.NumBlocks = 4 }) // 16 tokens of KV
	noCache = withParams(func(p *Params) { p.PrefixCaching = false })
)

type scheduleCase struct {
	name     string
	p        Params
	arrivals []arrival
	steps    int
	want     []string
}

var scheduleCases = []scheduleCase{
	{
		name: "continuous batching: prefill then one decode token per step",
		p:    smallParams(),
		arrivals: []arrival{
			{0, "A", req(prompt(0, 3, 1), 2)},
			{0, "B", req(prompt(0, 5, 2), 3)},
			{1, "C", req(prompt(0, 2, 3), 1)},
		},
		steps: 4,
		want: []string{
			"A+3* | B+5* | run 2 wait 0 free 61",
			"A+1d! | B+1d | C+2*! | run 1 wait 0 free 62",
			"B+1d! | run 0 wait 0 free 64",
			"run 0 wait 0 free 64",
		},
	},
	{
		name:     "token budget chunks a long prompt",
		p:        budget8,
		arrivals: []arrival{{0, "A", req(prompt(0, 20, 1), 2)}},
		steps:    4,
		want: []string{
			"A+8 | run 1 wait 0 free 62",
			"A+8 | run 1 wait 0 free 60",
			"A+4* | run 1 wait 0 free 59",
			"A+1d! | run 0 wait 0 free 64",
		},
	},
	{
		name: "running sequences take the budget before waiting ones",
		p:    budget8,
		arrivals: []arrival{
			{0, "A", req(prompt(0, 6, 1), 3)},
			{0, "B", req(prompt(0, 6, 2), 2)},
		},
		steps: 3,
		want: []string{
			"A+6* | B+2 | run 2 wait 0 free 61",
			"A+1d | B+4* | run 2 wait 0 free 60",
			"A+1d! | B+1d! | run 0 wait 0 free 64",
		},
	},
	{
		name: "max running sequences holds the queue",
		p:    oneSeq,
		arrivals: []arrival{
			{0, "A", req(prompt(0, 4, 1), 2)},
			{0, "B", req(prompt(0, 4, 2), 1)},
		},
		steps: 3,
		want: []string{
			"A+4* | run 1 wait 1 free 63",
			"A+1d! | run 0 wait 1 free 64",
			"B+4*! | run 0 wait 0 free 64",
		},
	},
	{
		name: "prefix hit skips cached blocks and counts them",
		p:    smallParams(),
		arrivals: []arrival{
			{0, "A", req(prompt(10, 0, 0), 1)},
			{1, "B", req(prompt(10, 6, 2), 1)}, // shares A's two full blocks
			{2, "C", req(prompt(10, 0, 0), 1)}, // same prompt as A
		},
		steps: 3,
		want: []string{
			"A+10*! | run 0 wait 0 free 64",
			"B+8*! | run 0 wait 0 free 64",
			"C+2*! | run 0 wait 0 free 64",
		},
	},
	{
		name: "a fully cached prompt still computes its last block",
		p:    smallParams(),
		arrivals: []arrival{
			{0, "A", req(prompt(8, 0, 0), 1)},
			{1, "B", req(prompt(8, 0, 0), 1)},
		},
		steps: 2,
		want: []string{
			"A+8*! | run 0 wait 0 free 64",
			"B+4*! | run 0 wait 0 free 64",
		},
	},
	{
		name: "no prefix caching: everything is prefilled",
		p:    noCache,
		arrivals: []arrival{
			{0, "A", req(prompt(8, 0, 0), 1)},
			{1, "B", req(prompt(8, 0, 0), 1)},
		},
		steps: 2,
		want: []string{
			"A+8*! | run 0 wait 0 free 64",
			"B+8*! | run 0 wait 0 free 64",
		},
	},
	{
		name: "memory runs out: the newest sequence is preempted and recomputed",
		p:    tiny,
		arrivals: []arrival{
			{0, "A", req(prompt(0, 7, 1), 6)},
			{0, "B", req(prompt(0, 7, 2), 6)},
		},
		steps: 9,
		want: []string{
			"A+7* | B+7* | run 2 wait 0 free 0",
			"A+1d | B+1d | run 2 wait 0 free 0",
			// A's 9th token needs a third block: B gives up its two.
			"A+1d | preempt B | run 1 wait 1 free 1",
			// B cannot come back while A holds 3 of 4 blocks.
			"A+1d | run 1 wait 1 free 1",
			"A+1d | run 1 wait 1 free 1",
			"A+1d! | run 0 wait 1 free 4",
			// B recomputes from its cached first block: 9 tokens, 4 to do.
			"B+5 | run 1 wait 0 free 1",
		},
	},
	{
		name: "remote prefill: blocks reserved, KV received, last token computed here",
		p:    smallParams(),
		arrivals: []arrival{
			{0, "R", Request{Prompt: prompt(0, 9, 1), MaxTokens: 2, RemotePrefill: true}},
			{0, "L", req(prompt(0, 4, 2), 1)},
		},
		steps: 4,
		want: []string{
			// R waits for 8 tokens of KV; L, behind it, runs meanwhile.
			"L+4*! | transfer R | run 0 wait 1 free 61",
			"run 0 wait 1 free 61", // idle until the KV lands
			"R+1* | run 1 wait 0 free 61",
			"R+1d! | run 0 wait 0 free 64",
		},
	},
	{
		name: "remote prefill shorter than a block is computed locally",
		p:    smallParams(),
		arrivals: []arrival{
			{0, "R", Request{Prompt: prompt(0, 3, 1), MaxTokens: 1, RemotePrefill: true}},
		},
		steps: 1,
		want:  []string{"R+3*! | run 0 wait 0 free 64"},
	},
}

func TestSchedule(t *testing.T) {
	for _, tc := range scheduleCases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _ := run(t, tc.p, tc.arrivals, tc.steps)
			if len(tc.want) < len(got) {
				got = got[:len(tc.want)]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatsAndCachedTokens(t *testing.T) {
	_, seqs, c := run(t, tiny, []arrival{
		{0, "A", req(prompt(8, 1, 1), 1)},
		{1, "B", req(prompt(8, 2, 2), 1)}, // hits A's 2 blocks
		{2, "C", req(prompt(0, 7, 3), 6)},
		{2, "D", req(prompt(0, 7, 4), 6)}, // C and D overflow 4 blocks
	}, 12)
	got := map[string]int{}
	for name, s := range seqs {
		got[name+" cached"] = s.CachedTokens()
		got[name+" preempted"] = s.Preemptions()
	}
	want := map[string]int{
		"A cached": 0, "A preempted": 0,
		"B cached": 8, "B preempted": 0,
		"C cached": 0, "C preempted": 0,
		"D cached": 0, "D preempted": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per sequence (-want +got):\n%s", diff)
	}
	st := c.Stats()
	st.Steps = 0
	wantStats := Stats{
		PrefixQueries:    9 + 10 + 7 + 7,
		PrefixHits:       8,
		Preemptions:      1,
		PromptTokens:     9 + 10 + 7 + 7,
		GenerationTokens: 1 + 1 + 6 + 6,
		Finished:         4,
	}
	if diff := cmp.Diff(wantStats, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// A preempted sequence at the head of the queue does not fit; a remote
// prefill behind it holds its blocks already and must still run, or the two
// would wait on each other with nothing running.
func TestLandedTransferPassesBlockedHead(t *testing.T) {
	p := smallParams()
	p.NumBlocks = 6
	lines, seqs, _ := run(t, p, []arrival{
		{0, "L", req(prompt(0, 8, 1), 8)},
		{0, "R1", Request{Prompt: prompt(0, 9, 2), MaxTokens: 2, RemotePrefill: true}},
		{0, "R2", Request{Prompt: prompt(0, 9, 3), MaxTokens: 2, RemotePrefill: true}},
	}, 60)
	for _, name := range []string{"L", "R1", "R2"} {
		if !seqs[name].Finished() {
			t.Errorf("%s did not finish; steps:\n%s", name, strings.Join(lines, "\n"))
		}
	}
	if seqs["L"].Preemptions() == 0 {
		t.Errorf("L was never preempted: the case does not test what it should; steps:\n%s", strings.Join(lines, "\n"))
	}
}

func TestTransfersQueueOnOneLink(t *testing.T) {
	c, err := NewCore(smallParams())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Add(Request{Prompt: prompt(0, 9, 1), MaxTokens: 1, RemotePrefill: true})
	b, _ := c.Add(Request{Prompt: prompt(0, 5, 2), MaxTokens: 1, RemotePrefill: true})
	plan := c.Schedule()
	if len(plan.Transfers) != 2 || !plan.Empty() {
		t.Fatalf("plan: %d transfers, %d items; want 2 transfers and no items", len(plan.Transfers), len(plan.Items))
	}
	// 8 tokens: 1 ms + 8 ms; then 4 tokens behind it: +1 ms + 4 ms.
	want := []time.Duration{9 * time.Millisecond, 14 * time.Millisecond}
	if diff := cmp.Diff(want, []time.Duration{a.readyAt, b.readyAt}); diff != "" {
		t.Errorf("ready times (-want +got):\n%s", diff)
	}
	if at, ok := c.NextReady(); !ok || at != want[0] {
		t.Errorf("NextReady = %v, %v; want %v", at, ok, want[0])
	}
	if a.CachedTokens() != 8 || b.CachedTokens() != 4 {
		t.Errorf("cached tokens %d, %d; want 8 and 4 (received KV counts as cached)", a.CachedTokens(), b.CachedTokens())
	}
}

func TestAbortFreesBlocks(t *testing.T) {
	c, err := NewCore(smallParams())
	if err != nil {
		t.Fatal(err)
	}
	running, _ := c.Add(req(prompt(0, 8, 1), 4))
	c.Complete(c.Schedule())
	waitingRemote, _ := c.Add(Request{Prompt: prompt(0, 8, 2), MaxTokens: 1, RemotePrefill: true})
	c.Schedule() // running decodes; the remote one reserves blocks and waits
	if c.pool.NumFree() == 64 {
		t.Fatal("nothing allocated")
	}
	c.Abort(running)
	c.Abort(waitingRemote)
	c.Abort(waitingRemote) // twice is harmless
	if c.pool.NumFree() != 64 || c.NumRunning() != 0 || c.NumWaiting() != 0 {
		t.Errorf("after abort: free %d running %d waiting %d; want 64, 0, 0",
			c.pool.NumFree(), c.NumRunning(), c.NumWaiting())
	}
}

func TestStepShapeAndDuration(t *testing.T) {
	p := smallParams()
	p.MaxBatchedTokens = 8
	c, err := NewCore(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Request{req(prompt(0, 6, 1), 3), req(prompt(0, 6, 2), 2)} {
		if _, err := c.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	var got []Shape
	var durations []time.Duration
	for i := 0; i < 3; i++ {
		plan := c.Schedule()
		got = append(got, plan.Shape)
		durations = append(durations, plan.Duration)
		c.Complete(plan)
	}
	want := []Shape{
		{PrefillTokens: 8, ContextTokens: 6 + 2},
		{PrefillTokens: 4, DecodeSeqs: 1, ContextTokens: 7 + 6},
		{DecodeSeqs: 2, ContextTokens: 8 + 7},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shapes (-want +got):\n%s", diff)
	}
	// 1 ms + 10 µs per prefill token + 100 µs per decode + 1 µs per context token.
	wantDur := []time.Duration{1088 * time.Microsecond, 1153 * time.Microsecond, 1215 * time.Microsecond}
	if diff := cmp.Diff(wantDur, durations); diff != "" {
		t.Errorf("durations (-want +got):\n%s", diff)
	}
	if c.Now() != wantDur[0]+wantDur[1]+wantDur[2] {
		t.Errorf("virtual time %v, want the sum of step durations", c.Now())
	}
}

func TestCheckRejectsImpossibleRequests(t *testing.T) {
	p := smallParams()
	p.NumBlocks = 4
	p.MaxModelLen = 20
	c, err := NewCore(p)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  Request
		ok   bool
	}{
		{name: "fits", req: req(prompt(0, 10, 1), 6), ok: true},
		{name: "empty prompt", req: req(nil, 1)},
		{name: "zero max tokens", req: req(prompt(0, 3, 1), 0)},
		{name: "longer than the model", req: req(prompt(0, 15, 1), 6)},
		{name: "more than all KV memory", req: req(prompt(0, 10, 1), 7)},
	}
	for _, tc := range cases {
		if err := c.Check(tc.req); (err == nil) != tc.ok {
			t.Errorf("%s: Check = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// The same arrivals give the same steps, tokens and cache state.
func TestCoreDeterministic(t *testing.T) {
	p := smallParams()
	p.NumBlocks = 12
	p.MaxBatchedTokens = 16
	var arrivals []arrival
	for i := 0; i < 12; i++ {
		arrivals = append(arrivals, arrival{
			step: i / 2,
			name: fmt.Sprintf("r%d", i),
			req:  Request{Prompt: prompt(4*(i%3), 3+i%5, uint32(i)), MaxTokens: 2 + i%4, OutputSeed: uint64(i), RemotePrefill: i%4 == 3},
		})
	}
	first, seqsA, _ := run(t, p, arrivals, 40)
	second, seqsB, _ := run(t, p, arrivals, 40)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("two runs differ (-first +second):\n%s", diff)
	}
	for name, a := range seqsA {
		if diff := cmp.Diff(a.toks, seqsB[name].toks); diff != "" {
			t.Errorf("%s tokens differ:\n%s", name, diff)
		}
		if !a.Finished() {
			t.Errorf("%s did not finish in 40 steps", name)
		}
	}
}
