package load

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

func generate(t *testing.T, s Spec) []Request {
	t.Helper()
	reqs, err := s.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

func small(kind string) Spec {
	s := DefaultSpec(kind)
	s.Requests, s.SystemTokens, s.QuestionTokens, s.OutputTokens = 24, 40, 5, 3
	s.Groups, s.Users, s.Conversations, s.Turns, s.InputTokens = 3, 2, 2, 3, 7
	s.ToolTokens, s.Docs = 30, 2
	return s
}

func TestGenerateIsDeterministicPerSeed(t *testing.T) {
	for _, kind := range []string{Shared, Chat, Random, Long, Agentic, RAG} {
		t.Run(kind, func(t *testing.T) {
			s := small(kind)
			if diff := cmp.Diff(generate(t, s), generate(t, s)); diff != "" {
				t.Errorf("same seed, different requests (-first +second):\n%s", diff)
			}
			other := s
			other.Seed++
			if cmp.Equal(generate(t, s), generate(t, other)) {
				t.Error("seeds 1 and 2 gave the same requests")
			}
		})
	}
}

// near says whether a count of the simulator's tokens is what a text
// generated for want tokens may come to: the harness writes text by its
// own guess of bytes per token, and the engine's tokenizer decides.
func near(got, want int) bool {
	d := float64(got - want)
	return d <= 0.3*float64(want)+3 && -d <= 0.3*float64(want)+3
}

func TestWordsAreOneSimTokenEach(t *testing.T) {
	w := Words(50, 7, 1, 2)
	if got := tokenizer.Count(w); got != 50 {
		t.Errorf("50 words are %d tokens, want 50", got)
	}
	if !strings.HasPrefix(Words(80, 7, 1, 2), w) {
		t.Error("a longer draw of the same stream does not extend the shorter one")
	}
	if Words(50, 7, 1, 3) == w {
		t.Error("different streams gave the same words")
	}
}

// Shared: each group's system prompt is one text, each (group, user) one
// question; a round deals every prompt exactly once.
func TestSharedShape(t *testing.T) {
	s := small(Shared)
	reqs := generate(t, s)
	system := map[uint64]string{}
	seen := map[string]int{}
	for i, r := range reqs {
		if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[1].Role != "user" {
			t.Fatalf("request %d messages %+v", i, r.Messages)
		}
		if got := tokenizer.Count(r.Messages[0].Content); !near(got, s.SystemTokens) {
			t.Errorf("system prompt of %d tokens, want about %d", got, s.SystemTokens)
		}
		if prev, ok := system[r.Key]; ok && prev != r.Messages[0].Content {
			t.Errorf("group %d has two system prompts", r.Key)
		}
		system[r.Key] = r.Messages[0].Content
		if r.After != -1 || r.MaxTokens != s.OutputTokens {
			t.Errorf("request %d: After %d MaxTokens %d", i, r.After, r.MaxTokens)
		}
		seen[r.Messages[1].Content]++
		if i%(s.Groups*s.Users) == s.Groups*s.Users-1 { // end of a round
			for q, n := range seen {
				if n != 1+i/(s.Groups*s.Users) {
					t.Errorf("after request %d question %q sent %d times", i, q, n)
				}
			}
		}
	}
	if len(system) != s.Groups || len(seen) != s.Groups*s.Users {
		t.Errorf("%d system prompts and %d questions, want %d and %d", len(system), len(seen), s.Groups, s.Groups*s.Users)
	}
}

// Chat: a turn's history is the previous turn's plus an answer and a new
// question, and it waits for the previous turn.
func TestChatShape(t *testing.T) {
	s := small(Chat)
	reqs := generate(t, s)
	turns := map[uint64]int{}
	for i, r := range reqs {
		turns[r.Key]++
		if got, want := len(r.Messages), 2*turns[r.Key]; got != want {
			t.Fatalf("request %d (turn %d) has %d messages, want %d", i, turns[r.Key], got, want)
		}
		if r.After < 0 {
			if turns[r.Key] != 1 {
				t.Errorf("request %d is turn %d but waits for nothing", i, turns[r.Key])
			}
			continue
		}
		prev := reqs[r.After]
		if prev.Key != r.Key || r.After >= i {
			t.Fatalf("request %d waits for %d of conversation %d", i, r.After, prev.Key)
		}
		if diff := cmp.Diff(prev.Messages, r.Messages[:len(prev.Messages)]); diff != "" {
			t.Errorf("request %d does not extend its previous turn (-prev +this):\n%s", i, diff)
		}
		if a := r.Messages[len(prev.Messages)]; a.Role != "assistant" || float64(tokenizer.Count(a.Content)) > 1.3*float64(s.OutputTokens)+3 || a.Content == "" {
			t.Errorf("request %d: answer %+v", i, a)
		}
	}
	for c, n := range turns {
		if n > s.Turns {
			t.Errorf("conversation %d has %d turns, want at most %d", c, n, s.Turns)
		}
	}
	if want := s.Requests / s.Turns; len(turns) < want {
		t.Errorf("%d conversations, want at least %d", len(turns), want)
	}
}

func TestRandomAndLongShapes(t *testing.T) {
	distinct := map[string]bool{}
	for _, r := range generate(t, small(Random)) {
		distinct[r.Messages[0].Content] = true
		if got := tokenizer.Count(r.Messages[0].Content); !near(got, 7) {
			t.Errorf("random prompt of %d tokens, want about 7", got)
		}
	}
	if len(distinct) != 24 {
		t.Errorf("%d distinct random prompts of 24", len(distinct))
	}
	docs := map[string]bool{}
	for _, r := range generate(t, small(Long)) {
		docs[r.Messages[0].Content] = true
	}
	if len(docs) != 3 {
		t.Errorf("%d distinct documents, want 3", len(docs))
	}
}

func TestValidateRejects(t *testing.T) {
	cases := map[string]func(*Spec){
		"unknown kind":       func(s *Spec) { s.Kind = "bogus" },
		"no requests":        func(s *Spec) { s.Requests = 0 },
		"no users":           func(s *Spec) { s.Users = 0 },
		"negative system":    func(s *Spec) { s.SystemTokens = -1 },
		"empty trace":        func(s *Spec) { s.Kind = Trace },
		"no output":          func(s *Spec) { s.OutputTokens = 0 },
		"chat without turns": func(s *Spec) { s.Kind, s.Turns = Chat, 0 },
	}
	for name, mutate := range cases {
		s := small(Shared)
		mutate(&s)
		if _, err := s.Generate(); err == nil {
			t.Errorf("%s: Generate succeeded", name)
		}
	}
}

// Skewed shared: groups are asked in proportion to their Zipf weights, the
// hottest most, and a request is still its group's system prompt and one
// of its users' questions.
func TestSharedSkew(t *testing.T) {
	s := small(Shared)
	s.Requests, s.Groups, s.Users, s.Skew = 4000, 4, 3, 1
	want := zipfWeights(4, 1) // 1, 1/2, 1/3, 1/4 over 25/12
	if diff := cmp.Diff([]float64{12.0 / 25, 6.0 / 25, 4.0 / 25, 3.0 / 25}, want, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Fatalf("weights (-want +got):\n%s", diff)
	}
	count := make([]int, s.Groups)
	users := map[string]bool{}
	for _, r := range generate(t, s) {
		count[r.Key]++
		if r.Messages[0].Content != s.system(int(r.Key)).Content {
			t.Fatalf("request %d of group %d has another group's system prompt", r.Index, r.Key)
		}
		users[r.Messages[1].Content] = true
	}
	for g, n := range count {
		if got := float64(n) / float64(s.Requests); math.Abs(got-want[g]) > 0.03 {
			t.Errorf("group %d: %.3f of requests, want %.3f", g, got, want[g])
		}
	}
	if len(users) != s.Groups*s.Users {
		t.Errorf("%d distinct questions, want every group's %d users: %d", len(users), s.Users, s.Groups*s.Users)
	}
	if !strings.Contains(s.Describe(), "Zipf 1 (hottest group 48% of requests)") {
		t.Errorf("description %q does not say the skew", s.Describe())
	}
	s.Skew = -1
	if err := s.Validate(); err == nil {
		t.Error("negative skew: want an error")
	}
}

// Without FixedOutput a conversation's earlier answers have long-tailed
// lengths below max_tokens and no request sends ignore_eos; with it every
// answer is max_tokens long and every request sends ignore_eos.
func TestChatAnswerLengths(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		s := small(Chat)
		s.OutputTokens, s.Requests, s.FixedOutput = 100, 200, fixed
		lengths := map[int]bool{}
		total, answers := 0, 0
		for _, r := range generate(t, s) {
			if r.IgnoreEOS != fixed {
				t.Fatalf("fixed %v: request %d IgnoreEOS %v", fixed, r.Index, r.IgnoreEOS)
			}
			for _, m := range r.Messages {
				if m.Role == "assistant" {
					n := tokenizer.Count(m.Content)
					lengths[n] = true
					total += n
					answers++
				}
			}
		}
		mean := float64(total) / float64(answers)
		switch {
		case fixed && !near(int(mean), 100):
			t.Errorf("fixed: answers of %.1f tokens on average, want about 100", mean)
		case !fixed && (len(lengths) < 10 || mean < 15 || mean > 40):
			t.Errorf("drawn: %d distinct lengths, mean %.1f; want many, mean near 27", len(lengths), mean)
		}
	}
}

// Agentic: a session's turns extend each other by the agent's action and a
// tool output; tool outputs are long, records or code, and vary in size.
func TestAgenticShape(t *testing.T) {
	s := DefaultSpec(Agentic)
	s.Requests = 200
	reqs := generate(t, s)
	turns := map[uint64]int{}
	var toolTokens []int
	for i, r := range reqs {
		turns[r.Key]++
		n := turns[r.Key]
		if got, want := len(r.Messages), 2*n; got != want {
			t.Fatalf("request %d (turn %d) has %d messages, want %d", i, n, got, want)
		}
		if r.Messages[0].Role != "system" || r.Messages[1].Role != "user" {
			t.Fatalf("request %d opens with %s, %s", i, r.Messages[0].Role, r.Messages[1].Role)
		}
		if n == 1 {
			if r.After != -1 {
				t.Errorf("request %d opens a session but waits for %d", i, r.After)
			}
			continue
		}
		prev := reqs[r.After]
		if prev.Key != r.Key {
			t.Fatalf("request %d waits for %d of another session", i, r.After)
		}
		if diff := cmp.Diff(prev.Messages, r.Messages[:len(prev.Messages)]); diff != "" {
			t.Errorf("request %d does not extend its previous turn (-prev +this):\n%s", i, diff)
		}
		action, tool := r.Messages[len(r.Messages)-2], r.Messages[len(r.Messages)-1]
		if action.Role != "assistant" || tool.Role != "tool" {
			t.Errorf("request %d appends %s, %s; want assistant, tool", i, action.Role, tool.Role)
		}
		toolTokens = append(toolTokens, tokenizer.Count(tool.Content))
	}
	for k, n := range turns {
		if n > s.Turns {
			t.Errorf("session %d has %d turns, want at most %d", k, n, s.Turns)
		}
	}
	sum, lo, hi := 0, toolTokens[0], toolTokens[0]
	for _, n := range toolTokens {
		sum += n
		lo, hi = min(lo, n), max(hi, n)
	}
	mean := float64(sum) / float64(len(toolTokens))
	if mean < 0.6*float64(s.ToolTokens) || mean > 1.6*float64(s.ToolTokens) || hi < 2*lo {
		t.Errorf("tool outputs of %.0f tokens on average (from %d to %d), want about %d and varied", mean, lo, hi, s.ToolTokens)
	}
}

// RAG: every request carries Docs distinct documents whose text is the
// same wherever they appear, popular ones first more often, and a question
// of its own.
func TestRAGShape(t *testing.T) {
	s := DefaultSpec(RAG)
	s.Requests, s.Groups, s.SystemTokens = 300, 16, 60
	reqs := generate(t, s)
	firsts := map[uint64]int{}
	questions := map[string]bool{}
	for i, r := range reqs {
		if len(r.Messages) != 2 || r.Messages[0] != reqs[0].Messages[0] {
			t.Fatalf("request %d: messages %d, or instructions that differ from request 0's", i, len(r.Messages))
		}
		content := r.Messages[1].Content
		var docs []string
		rest := content
		for j := 1; j <= s.Docs; j++ {
			marker := fmt.Sprintf("Document %d:", j)
			next := fmt.Sprintf("\n\nDocument %d:", j+1)
			if j == s.Docs {
				next = "\n\nQuestion:"
			}
			a, b := strings.Index(rest, marker), strings.Index(rest, next)
			if a != 0 || b < 0 {
				t.Fatalf("request %d: no document %d where it belongs in %.80q", i, j, rest)
			}
			docs = append(docs, rest[len(marker):b])
			rest = rest[b+2:]
		}
		for j := range docs {
			if slices.Contains(docs[j+1:], docs[j]) {
				t.Errorf("request %d carries a document twice", i)
			}
		}
		if docs[0] != Text(s.SystemTokens, Prose, s.Seed, purposeDocument, r.Key) {
			t.Errorf("request %d: its first document is not document %d", i, r.Key)
		}
		if !strings.HasPrefix(rest, "Question:") {
			t.Fatalf("request %d ends with %.40q, not a question", i, rest)
		}
		firsts[r.Key]++
		questions[rest] = true
	}
	if len(questions) != s.Requests {
		t.Errorf("%d distinct questions in %d requests", len(questions), s.Requests)
	}
	// Zipf 1 over 16 documents: document 0 is drawn first about 30 % of
	// the time, document 15 about 2 %.
	if firsts[0] < 60 || firsts[0] < 3*firsts[15] {
		t.Errorf("first documents %v: want document 0 far more often than document 15", firsts)
	}
}
