package load

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Workload kinds.
const (
	// Shared: tenants in Groups share a system prompt; each of Users per
	// group asks its own question. Requests cycle through the Groups×Users
	// distinct prompts in a seeded random order, so past Groups×Users
	// requests whole prompts repeat.
	Shared = "shared"
	// Chat: multi-turn conversations. Conversations are open at once; each
	// request picks one at random and sends its whole history plus a new
	// question; a conversation ends after Turns turns and a new one opens.
	Chat = "chat"
	// Random: every prompt is unique; nothing to share.
	Random = "random"
	// Long: Groups long documents (SystemTokens each) with a unique
	// question per request; prefix reuse where a miss costs the most.
	Long = "long"
	// Agentic: agent sessions. Conversations are open at once, each with
	// a system prompt (tool definitions, shared by session number modulo
	// Groups) and a task; every later turn appends the agent's short
	// action and a long tool output (JSON records or code, a long-tailed
	// size averaging ToolTokens) to the growing context, for Turns turns.
	// Many short turns over a context that keeps growing.
	Agentic = "agentic"
	// RAG: retrieval-augmented questions. A pool of Groups documents of
	// SystemTokens each; every request puts Docs of them, drawn by Zipf
	// popularity (Skew) without repeats and in the order drawn, after a
	// fixed instruction prompt, then a unique question. Requests share the
	// instructions and, when their first document is the same, that
	// document; a popular document appearing second shares nothing.
	RAG = "rag"
	// Trace: replay of a JSONL trace (see ParseTrace).
	Trace = "trace"
)

// Kinds lists the workload kinds.
var Kinds = []string{Shared, Chat, Random, Long, Agentic, RAG, Trace}

// ragInstructionTokens is the size of the RAG workload's fixed
// instruction prompt.
const ragInstructionTokens = 150

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one request of a workload, before it is sent.
type Request struct {
	// Index is the request's place in the workload.
	Index int
	// Key names the family of requests that share a prefix (tenant group,
	// conversation, document, first trace block): the affinity the sticky
	// policy routes by.
	Key uint64
	// After is the index of a request that must finish before this one is
	// sent (the previous turn of a conversation), or -1.
	After    int
	Messages []Message
	// MaxTokens is the request's max_tokens: a cap the engine's own end of
	// sequence usually comes before, or with IgnoreEOS the exact length.
	MaxTokens int
	// IgnoreEOS asks for exactly MaxTokens tokens (vLLM's ignore_eos).
	IgnoreEOS bool
	// At is the arrival offset a trace recorded; zero for other kinds.
	At time.Duration
}

// Spec describes a workload. Generate reads only the fields its Kind uses.
type Spec struct {
	Kind     string
	Requests int
	Seed     uint64
	// Shared, Long: groups (documents); Chat: system prompts, shared by
	// conversation number modulo Groups.
	Groups int
	// Shared: users per group.
	Users int
	// Shared: Skew is the Zipf exponent of group popularity: group g (from
	// 0) is asked with weight 1/(g+1)^Skew, each of its users alike. 0 deals
	// every prompt equally often (rounds of a shuffle); 1 or more makes a
	// few groups hot enough to overload one engine.
	Skew           float64 `json:",omitempty"`
	SystemTokens   int
	QuestionTokens int
	// OutputTokens is every request's max_tokens (trace: unless
	// FixedOutput). The engine decides where an answer ends; the tandem-sim
	// default is a long-tailed length averaging about 0.27 of it.
	OutputTokens int
	// FixedOutput sends ignore_eos so that every request generates exactly
	// OutputTokens (trace: its record's output_length), as the harness did
	// before engines ended answers on their own. It also tells a router
	// the output length in advance: use it for calibration, not to compare
	// routers.
	FixedOutput bool `json:",omitempty"`
	// Chat.
	Conversations int
	Turns         int
	// Random.
	InputTokens int
	// Agentic: the mean size of a tool output (log-normal, σ 0.8, at most
	// 8 times it).
	ToolTokens int `json:",omitempty"`
	// RAG: documents per request.
	Docs int `json:",omitempty"`
	// Trace.
	Trace            []TraceRecord `json:"-"`
	TraceBlockTokens int
	// TraceRecords is the trace's length, kept for reports when Trace is
	// dropped from them.
	TraceRecords int `json:",omitempty"`
}

// DefaultSpec is a workload of the kind sized for a few simulated engines.
func DefaultSpec(kind string) Spec {
	s := Spec{Kind: kind, Seed: 1, Requests: 512, QuestionTokens: 100, OutputTokens: 200, Groups: 1}
	switch kind {
	case Shared:
		s.Groups, s.Users, s.SystemTokens = 16, 32, 2000
	case Chat:
		s.Requests, s.Conversations, s.Turns, s.SystemTokens = 256, 32, 8, 500
	case Random:
		s.InputTokens = 1000
	case Long:
		s.Requests, s.Groups, s.SystemTokens, s.QuestionTokens, s.OutputTokens = 128, 4, 16000, 64, 100
	case Agentic:
		s.Conversations, s.Turns, s.Groups, s.SystemTokens, s.QuestionTokens, s.ToolTokens, s.OutputTokens = 16, 16, 2, 1500, 150, 600, 150
	case RAG:
		s.Groups, s.SystemTokens, s.Docs, s.Skew, s.QuestionTokens = 64, 1000, 3, 1, 50
	case Trace:
		s.Requests, s.TraceBlockTokens, s.Trace = 0, 512, SampleTrace()
	}
	return s
}

// Validate reports the first setting Generate cannot use.
func (s Spec) Validate() error {
	if !slices.Contains(Kinds, s.Kind) {
		return fmt.Errorf("workload %q: want one of %v", s.Kind, Kinds)
	}
	type field struct {
		name string
		v    int
	}
	need := []field{{"requests", s.Requests}, {"output tokens", s.OutputTokens}}
	switch s.Kind {
	case Shared:
		need = append(need, field{"groups", s.Groups}, field{"users", s.Users}, field{"question tokens", s.QuestionTokens})
	case Chat:
		need = append(need, field{"groups", s.Groups}, field{"conversations", s.Conversations},
			field{"turns", s.Turns}, field{"question tokens", s.QuestionTokens})
	case Random:
		need = append(need, field{"input tokens", s.InputTokens})
	case Long:
		need = append(need, field{"groups", s.Groups}, field{"system tokens", s.SystemTokens}, field{"question tokens", s.QuestionTokens})
	case Agentic:
		need = append(need, field{"groups", s.Groups}, field{"conversations", s.Conversations}, field{"turns", s.Turns},
			field{"question tokens", s.QuestionTokens}, field{"tool tokens", s.ToolTokens})
	case RAG:
		need = append(need, field{"groups", s.Groups}, field{"system tokens", s.SystemTokens}, field{"question tokens", s.QuestionTokens},
			field{"docs", s.Docs})
		if s.Docs > s.Groups {
			return fmt.Errorf("workload rag: %d documents per request from a pool of %d", s.Docs, s.Groups)
		}
	case Trace:
		if s.Requests < 0 {
			return errors.New("workload trace: requests must not be negative (0: the whole trace)")
		}
		if len(s.Trace) == 0 {
			return errors.New("workload trace: the trace is empty")
		}
		need = []field{{"trace block tokens", s.TraceBlockTokens}}
		if !s.FixedOutput {
			need = append(need, field{"output tokens", s.OutputTokens})
		}
	}
	for _, f := range need {
		if f.v < 1 {
			return fmt.Errorf("workload %s: %s must be at least 1, got %d", s.Kind, f.name, f.v)
		}
	}
	if s.SystemTokens < 0 {
		return fmt.Errorf("workload %s: system tokens must not be negative", s.Kind)
	}
	if s.Skew < 0 || math.IsNaN(s.Skew) || math.IsInf(s.Skew, 0) {
		return fmt.Errorf("workload %s: skew must be a non-negative number, got %g", s.Kind, s.Skew)
	}
	return nil
}

// Describe says what the workload is in one line.
func (s Spec) Describe() string {
	var d string
	switch s.Kind {
	case Shared:
		d = fmt.Sprintf("%d groups × %d users, system %d + question %d tokens", s.Groups, s.Users, s.SystemTokens, s.QuestionTokens)
		if s.Skew > 0 {
			d += fmt.Sprintf(", group popularity Zipf %g (hottest group %.0f%% of requests)", s.Skew, 100*zipfWeights(s.Groups, s.Skew)[0])
		}
	case Chat:
		d = fmt.Sprintf("%d open conversations of %d turns, %d system prompt(s) of %d tokens, question %d tokens",
			s.Conversations, s.Turns, s.Groups, s.SystemTokens, s.QuestionTokens)
	case Random:
		d = fmt.Sprintf("unique prompts of %d tokens", s.InputTokens)
	case Long:
		d = fmt.Sprintf("%d documents of %d tokens, question %d tokens", s.Groups, s.SystemTokens, s.QuestionTokens)
	case Agentic:
		d = fmt.Sprintf("%d open sessions of %d turns, %d system prompt(s) of %d tokens, task %d tokens, tool outputs of %d tokens on average",
			s.Conversations, s.Turns, s.Groups, s.SystemTokens, s.QuestionTokens, s.ToolTokens)
	case RAG:
		d = fmt.Sprintf("%d of a pool of %d documents of %d tokens per request (Zipf %g), instructions %d tokens, question %d tokens",
			s.Docs, s.Groups, s.SystemTokens, s.Skew, ragInstructionTokens, s.QuestionTokens)
	case Trace:
		n := max(len(s.Trace), s.TraceRecords)
		used := n
		if s.Requests > 0 {
			used = min(n, s.Requests)
		}
		out := fmt.Sprintf("max_tokens %d", s.OutputTokens)
		if s.FixedOutput {
			out = "outputs exactly the records' output_length"
		}
		return fmt.Sprintf("trace of %d records, %d sent, blocks of %d tokens, %s, seed %d", n, used, s.TraceBlockTokens, out, s.Seed)
	}
	return fmt.Sprintf("%s: %s, %s, %d requests, seed %d", s.Kind, d, s.describeOutput(), s.Requests, s.Seed)
}

func (s Spec) describeOutput() string {
	if s.FixedOutput {
		return fmt.Sprintf("output exactly %d tokens (ignore_eos)", s.OutputTokens)
	}
	return fmt.Sprintf("max_tokens %d (the engine ends answers)", s.OutputTokens)
}

// Generate returns the workload's requests in order. The same Spec always
// gives the same requests.
func (s Spec) Generate() ([]Request, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var reqs []Request
	switch s.Kind {
	case Shared:
		reqs = s.shared()
	case Chat:
		reqs = s.chat()
	case Random:
		reqs = s.random()
	case Long:
		reqs = s.long()
	case Agentic:
		reqs = s.agentic()
	case RAG:
		reqs = s.rag()
	default:
		reqs = s.trace()
	}
	for i := range reqs {
		reqs[i].IgnoreEOS = s.FixedOutput
	}
	return reqs, nil
}

// answerTokens is the length of the synthetic answer a conversation's
// history carries for an earlier turn: OutputTokens with FixedOutput, else
// the workload's own long-tailed draw (log-normal, mean 0.3 × OutputTokens,
// σ 1, capped), independent of what any engine generated.
func (s Spec) answerTokens(path ...uint64) int {
	if s.FixedOutput {
		return s.OutputTokens
	}
	r := newRNG(s.Seed, path...)
	return logNormalTokens(r, 0.3*float64(s.OutputTokens), 1, s.OutputTokens)
}

// logNormalTokens draws a log-normal count of tokens with this mean and
// shape, rounded and clamped to [1, limit].
func logNormalTokens(r *rng, mean, sigma float64, limit int) int {
	u1 := 1 - r.float() // (0, 1]
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*r.float())
	n := math.Round(math.Exp(math.Log(mean) - sigma*sigma/2 + sigma*z))
	if !(n < float64(limit)) {
		return limit
	}
	return max(1, int(n))
}

func (s Spec) system(group int) Message {
	return Message{Role: "system", Content: Text(s.SystemTokens, Prose, s.Seed, purposeSystem, uint64(group))}
}

// shared deals the Groups×Users prompts in rounds: each round is a seeded
// shuffle (Fisher–Yates) of all of them; with Skew, it draws each
// request's group by popularity instead (skewed).
func (s Spec) shared() []Request {
	if s.Skew > 0 {
		return s.skewed()
	}
	n := s.Groups * s.Users
	order := make([]int, n)
	r := newRNG(s.Seed, purposeOrder)
	reqs := make([]Request, s.Requests)
	for i := range reqs {
		if i%n == 0 {
			for j := range order {
				order[j] = j
			}
			for j := n - 1; j > 0; j-- {
				k := r.intn(j + 1)
				order[j], order[k] = order[k], order[j]
			}
		}
		p := order[i%n]
		g, u := p/s.Users, p%s.Users
		reqs[i] = s.sharedRequest(i, g, u)
	}
	return reqs
}

func (s Spec) sharedRequest(i, g, u int) Request {
	q := Text(s.QuestionTokens, Prose, s.Seed, purposeQuestion, uint64(g), uint64(u))
	return Request{
		Index: i, Key: uint64(g), After: -1, MaxTokens: s.OutputTokens,
		Messages: []Message{s.system(g), {Role: "user", Content: q}},
	}
}

// skewed draws each request's group from the Zipf weights (inverse CDF)
// and its user uniformly.
func (s Spec) skewed() []Request {
	w := zipfWeights(s.Groups, s.Skew)
	cdf := make([]float64, len(w))
	sum := 0.0
	for g, x := range w {
		sum += x
		cdf[g] = sum
	}
	r := newRNG(s.Seed, purposeOrder)
	reqs := make([]Request, s.Requests)
	for i := range reqs {
		g, _ := slices.BinarySearch(cdf, r.float())
		g = min(g, s.Groups-1)
		reqs[i] = s.sharedRequest(i, g, r.intn(s.Users))
	}
	return reqs
}

// zipfWeights are the n groups' shares of requests under exponent skew.
func zipfWeights(n int, skew float64) []float64 {
	w := make([]float64, n)
	sum := 0.0
	for g := range w {
		w[g] = math.Pow(float64(g+1), -skew)
		sum += w[g]
	}
	for g := range w {
		w[g] /= sum
	}
	return w
}

func (s Spec) long() []Request {
	r := newRNG(s.Seed, purposeOrder)
	reqs := make([]Request, s.Requests)
	for i := range reqs {
		g := r.intn(s.Groups)
		q := Text(s.QuestionTokens, Prose, s.Seed, purposeQuestion, uint64(g), uint64(i))
		reqs[i] = Request{
			Index: i, Key: uint64(g), After: -1, MaxTokens: s.OutputTokens,
			Messages: []Message{s.system(g), {Role: "user", Content: q}},
		}
	}
	return reqs
}

func (s Spec) random() []Request {
	reqs := make([]Request, s.Requests)
	for i := range reqs {
		reqs[i] = Request{
			Index: i, Key: uint64(i), After: -1, MaxTokens: s.OutputTokens,
			Messages: []Message{{Role: "user", Content: Text(s.InputTokens, Prose, s.Seed, purposeQuestion, uint64(i))}},
		}
	}
	return reqs
}

// chat keeps Conversations open. A turn appends the previous turn's answer
// (synthetic text of answerTokens words: the harness does not wait for the
// engine's words, so the workload stays fixed and the oracle can see it)
// and a new question to the conversation's history.
func (s Spec) chat() []Request {
	type conv struct {
		id, turns, last int
		history         []Message
	}
	next := 0
	open := func() *conv {
		c := &conv{id: next, last: -1, history: []Message{s.system(next % s.Groups)}}
		next++
		return c
	}
	active := make([]*conv, s.Conversations)
	for i := range active {
		active[i] = open()
	}
	r := newRNG(s.Seed, purposeOrder)
	reqs := make([]Request, s.Requests)
	for i := range reqs {
		k := r.intn(len(active))
		c := active[k]
		id, turn := uint64(c.id), uint64(c.turns)
		if c.turns > 0 {
			n := s.answerTokens(purposeAnswerLength, id, turn-1)
			c.history = append(c.history, Message{Role: "assistant", Content: Text(n, Prose, s.Seed, purposeAnswer, id, turn-1)})
		}
		c.history = append(c.history, Message{Role: "user", Content: Text(s.QuestionTokens, Prose, s.Seed, purposeQuestion, id, turn)})
		reqs[i] = Request{
			Index: i, Key: id, After: c.last, MaxTokens: s.OutputTokens,
			Messages: slices.Clone(c.history),
		}
		c.last = i
		if c.turns++; c.turns == s.Turns {
			active[k] = open()
		}
	}
	return reqs
}

// agentic keeps Conversations sessions open, like chat, but a turn after
// the first appends the agent's previous action (a short synthetic reply)
// and the tool's output, records or code, instead of a user question.
func (s Spec) agentic() []Request {
	type session struct {
		id, turns, last int
		history         []Message
	}
	next := 0
	open := func() *session {
		c := &session{id: next, last: -1, history: []Message{
			s.system(next % s.Groups),
			{Role: "user", Content: Text(s.QuestionTokens, Prose, s.Seed, purposeQuestion, uint64(next))},
		}}
		next++
		return c
	}
	active := make([]*session, s.Conversations)
	for i := range active {
		active[i] = open()
	}
	r := newRNG(s.Seed, purposeOrder)
	reqs := make([]Request, s.Requests)
	for i := range reqs {
		k := r.intn(len(active))
		c := active[k]
		id, turn := uint64(c.id), uint64(c.turns)
		if c.turns > 0 {
			n := s.answerTokens(purposeAnswerLength, id, turn-1)
			style, size := s.toolOutput(id, turn)
			c.history = append(c.history,
				Message{Role: "assistant", Content: Text(n, Prose, s.Seed, purposeAnswer, id, turn-1)},
				Message{Role: "tool", Content: Text(size, style, s.Seed, purposeTool, id, turn)})
		}
		reqs[i] = Request{Index: i, Key: id, After: c.last, MaxTokens: s.OutputTokens, Messages: slices.Clone(c.history)}
		c.last = i
		if c.turns++; c.turns == s.Turns {
			active[k] = open()
		}
	}
	return reqs
}

// toolOutput is the style and size of a session's tool output at a turn:
// records or code alike, a log-normal size with mean ToolTokens and σ 0.8,
// at most 8 × ToolTokens.
func (s Spec) toolOutput(id, turn uint64) (Style, int) {
	r := newRNG(s.Seed, purposeToolSize, id, turn)
	style := Records
	if r.intn(2) == 0 {
		style = Code
	}
	return style, logNormalTokens(r, float64(s.ToolTokens), 0.8, 8*s.ToolTokens)
}

// rag draws each request's documents by Zipf popularity without repeats
// (a drawn document already taken is drawn again) and asks a question of
// its own after them.
func (s Spec) rag() []Request {
	w := zipfWeights(s.Groups, s.Skew)
	cdf := make([]float64, len(w))
	sum := 0.0
	for g, x := range w {
		sum += x
		cdf[g] = sum
	}
	instructions := Message{Role: "system", Content: Text(ragInstructionTokens, Prose, s.Seed, purposeSystem, 1<<32)}
	r := newRNG(s.Seed, purposeOrder)
	reqs := make([]Request, s.Requests)
	for i := range reqs {
		var docs []int
		for len(docs) < s.Docs {
			g, _ := slices.BinarySearch(cdf, r.float())
			if g = min(g, s.Groups-1); !slices.Contains(docs, g) {
				docs = append(docs, g)
			}
		}
		var b strings.Builder
		for j, g := range docs {
			fmt.Fprintf(&b, "Document %d:", j+1)
			b.WriteString(Text(s.SystemTokens, Prose, s.Seed, purposeDocument, uint64(g)))
			b.WriteString("\n\n")
		}
		b.WriteString("Question:")
		b.WriteString(Text(s.QuestionTokens, Prose, s.Seed, purposeQuestion, uint64(i)))
		reqs[i] = Request{Index: i, Key: uint64(docs[0]), After: -1, MaxTokens: s.OutputTokens,
			Messages: []Message{instructions, {Role: "user", Content: b.String()}}}
	}
	return reqs
}
