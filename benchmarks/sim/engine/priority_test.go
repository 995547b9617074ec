package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func preq(promptTokens []uint32, maxTokens, priority int) Request {
	return Request{Prompt: promptTokens, MaxTokens: maxTokens, Priority: priority}
}

func withPolicy(p Params, policy Policy) Params {
	p.Policy = policy
	return p
}

func TestSchedulingPolicy(t *testing.T) {
	// Four requests queue behind one running sequence; their priorities
	// are 5, 1, 1 in arrival order.
	queued := []arrival{
		{0, "A", preq(prompt(0, 4, 1), 1, 9)},
		{0, "B", preq(prompt(0, 4, 2), 1, 5)},
		{0, "C", preq(prompt(0, 4, 3), 1, 1)},
		{0, "D", preq(prompt(0, 4, 4), 1, 1)},
	}
	// A is older and less urgent than B; once B is in, both fill their
	// two blocks and B's next token needs a third.
	pressed := []arrival{
		{0, "A", preq(prompt(0, 6, 1), 4, 9)},
		{1, "B", preq(prompt(0, 8, 2), 4, 0)},
	}
	// The same, but A's next token needs the third block.
	selfPressed := []arrival{
		{0, "A", preq(prompt(0, 7, 1), 4, 9)},
		{1, "B", preq(prompt(0, 6, 2), 4, 0)},
	}
	cases := []scheduleCase{
		{
			name:     "fcfs: the queue is arrival order whatever the priorities",
			p:        withPolicy(oneSeq, PolicyFCFS),
			arrivals: queued,
			steps:    4,
			want: []string{
				"A+4*! | run 0 wait 3 free 64",
				"B+4*! | run 0 wait 2 free 64",
				"C+4*! | run 0 wait 1 free 64",
				"D+4*! | run 0 wait 0 free 64",
			},
		},
		{
			name:     "empty policy is fcfs",
			p:        withPolicy(oneSeq, ""),
			arrivals: queued,
			steps:    2,
			want: []string{
				"A+4*! | run 0 wait 3 free 64",
				"B+4*! | run 0 wait 2 free 64",
			},
		},
		{
			name:     "priority: the queue is (priority, arrival), lower first",
			p:        withPolicy(oneSeq, PolicyPriority),
			arrivals: queued,
			steps:    4,
			want: []string{
				"C+4*! | run 0 wait 3 free 64",
				"D+4*! | run 0 wait 2 free 64",
				"B+4*! | run 0 wait 1 free 64",
				"A+4*! | run 0 wait 0 free 64",
			},
		},
		{
			name: "priority: a more urgent arrival waits for the running batch, it does not preempt",
			p:    withPolicy(oneSeq, PolicyPriority),
			arrivals: []arrival{
				{0, "A", preq(prompt(0, 4, 1), 3, 5)},
				{1, "B", preq(prompt(0, 4, 2), 1, 0)},
			},
			steps: 4,
			want: []string{
				"A+4* | run 1 wait 0 free 63",
				"A+1d | run 1 wait 1 free 62",
				"A+1d! | run 0 wait 1 free 64",
				"B+4*! | run 0 wait 0 free 64",
			},
		},
		{
			name:     "fcfs: out of memory, the newest running sequence is preempted",
			p:        withPolicy(tiny, PolicyFCFS),
			arrivals: pressed,
			steps:    3,
			want: []string{
				"A+6* | run 1 wait 0 free 2",
				"A+1d | B+8* | run 2 wait 0 free 0",
				// B's 9th token needs a third block; B is the newest.
				"A+1d | preempt B | run 1 wait 1 free 2",
			},
		},
		{
			name:     "priority: out of memory, the least urgent sequence is preempted and loses its scheduled token",
			p:        withPolicy(tiny, PolicyPriority),
			arrivals: pressed,
			steps:    4,
			want: []string{
				"A+6* | run 1 wait 0 free 2",
				"A+1d | B+8* | run 2 wait 0 free 0",
				// A was scheduled before B asked for a block; A is the
				// victim, so its decode leaves the step.
				"B+1d | preempt A | run 1 wait 1 free 1",
				"B+1d | run 1 wait 1 free 1",
			},
		},
		{
			name:     "fcfs: the sequence that needs memory takes it from the newest",
			p:        withPolicy(tiny, PolicyFCFS),
			arrivals: selfPressed,
			steps:    3,
			want: []string{
				"A+7* | run 1 wait 0 free 2",
				"A+1d | B+6* | run 2 wait 0 free 0",
				"A+1d | preempt B | run 1 wait 1 free 1",
			},
		},
		{
			name:     "priority: a sequence that is itself the least urgent preempts itself and ends the step",
			p:        withPolicy(tiny, PolicyPriority),
			arrivals: selfPressed,
			steps:    3,
			want: []string{
				"A+7* | run 1 wait 0 free 2",
				"A+1d | B+6* | run 2 wait 0 free 0",
				// A needs a third block and is the victim itself: the
				// loop stops before B, as vLLM's does.
				"preempt A | run 1 wait 1 free 2",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _ := run(t, tc.p, tc.arrivals, tc.steps)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	for _, s := range []string{"fcfs", "priority"} {
		if p, err := ParsePolicy(s); err != nil || string(p) != s {
			t.Errorf("ParsePolicy(%q) = %q, %v", s, p, err)
		}
	}
	if _, err := ParsePolicy("sjf"); err == nil {
		t.Error("ParsePolicy(sjf) accepted an unknown policy")
	}
	if err := withPolicy(smallParams(), "sjf").Validate(); err == nil {
		t.Error("Validate accepted an unknown policy")
	}
}
