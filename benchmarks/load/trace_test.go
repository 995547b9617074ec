package load

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

const sampleTrace = `{"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48]}
# a comment, then a blank line

{"timestamp": 0, "input_length": 1200, "output_length": 10, "hash_ids": [46, 47, 99], "extra": "ignored"}
{"timestamp": 27482, "input_length": 20, "output_length": 1, "hash_ids": []}
`

func TestParseTrace(t *testing.T) {
	got, err := ParseTrace(strings.NewReader(sampleTrace))
	if err != nil {
		t.Fatal(err)
	}
	want := []TraceRecord{ // sorted by timestamp, stable
		{Timestamp: 0, InputLength: 1200, OutputLength: 10, HashIDs: []uint64{46, 47, 99}},
		{Timestamp: 27482, InputLength: 6955, OutputLength: 52, HashIDs: []uint64{46, 47, 48}},
		{Timestamp: 27482, InputLength: 20, OutputLength: 1, HashIDs: []uint64{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseTrace (-want +got):\n%s", diff)
	}
}

func TestParseTraceErrorsNameTheLine(t *testing.T) {
	cases := map[string]string{
		"not json":        "{}\n{nope",
		"no input":        `{"timestamp": 1, "output_length": 1}`,
		"negative time":   `{"timestamp": -1, "input_length": 1, "output_length": 1}`,
		"no output":       `{"timestamp": 1, "input_length": 5, "output_length": 0}`,
		"too many blocks": `{"timestamp": 1, "input_length": 1, "output_length": 1, "hash_ids": [1, 2]}`,
		"huge input":      `{"timestamp": 1, "input_length": 99999999999, "output_length": 1}`,
		"string length":   `{"timestamp": 1, "input_length": "5", "output_length": 1}`,
	}
	for name, text := range cases {
		_, err := ParseTrace(strings.NewReader(text))
		if err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("%s: error %v, want one naming the line", name, err)
		}
	}
}

// Requests that share hash ids share prompt text block by block, and the
// prompt has input_length words.
func TestTraceWorkloadSharesBlocks(t *testing.T) {
	recs, err := ParseTrace(strings.NewReader(sampleTrace))
	if err != nil {
		t.Fatal(err)
	}
	s := DefaultSpec(Trace)
	s.Trace, s.TraceBlockTokens = recs, 512
	reqs := generate(t, s)
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	a, b := reqs[0].Messages[0].Content, reqs[1].Messages[0].Content
	if got := tokenizer.Count(a); !near(got, 1200) {
		t.Errorf("first prompt %d tokens, want about 1200", got)
	}
	ids := recs[0].HashIDs
	shared := Text(512, Prose, s.Seed, purposeBlock, ids[0]) + Text(512, Prose, s.Seed, purposeBlock, ids[1])
	if !strings.HasPrefix(a, shared) || !strings.HasPrefix(b, shared) || strings.HasPrefix(b, a[:len(shared)+8]) {
		t.Errorf("the two prompts do not share exactly the text of their two common blocks")
	}
	if n := tokenizer.Count(shared); !near(n, 1024) {
		t.Errorf("two 512-token blocks are %d tokens, want about 1024", n)
	}
	// The shared text tokenizes the same alone and in either prompt.
	want := tokenizer.Encode(shared)
	for _, p := range []string{a, b} {
		if diff := cmp.Diff(want, tokenizer.Encode(p)[:len(want)]); diff != "" {
			t.Errorf("the shared blocks tokenize differently inside a prompt (-alone +inside):\n%s", diff)
		}
	}
	if reqs[1].At != 27482*time.Millisecond || reqs[1].MaxTokens != s.OutputTokens || reqs[1].IgnoreEOS || reqs[0].Key != 46 {
		t.Errorf("request 1: At %v MaxTokens %d IgnoreEOS %v; request 0 Key %d", reqs[1].At, reqs[1].MaxTokens, reqs[1].IgnoreEOS, reqs[0].Key)
	}
	// A client does not know output_length; only fixed outputs replay it.
	s.FixedOutput = true
	if r := generate(t, s)[1]; r.MaxTokens != 52 || !r.IgnoreEOS {
		t.Errorf("fixed outputs: request 1 MaxTokens %d IgnoreEOS %v, want the record's 52 with ignore_eos", r.MaxTokens, r.IgnoreEOS)
	}
	s.Requests = 2
	if got := len(generate(t, s)); got != 2 {
		t.Errorf("Requests 2 gave %d requests", got)
	}
}

func FuzzParseTrace(f *testing.F) {
	f.Add([]byte(sampleTrace))
	f.Add([]byte(`{"timestamp": 1e300, "input_length": 1, "output_length": 1}`))
	f.Add([]byte("{\"hash_ids\": [1,2,3]}\n\n#\n"))
	f.Add([]byte(`{"timestamp": 5, "input_length": 3, "output_length": 2, "hash_ids": [18446744073709551615]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ParseTrace(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What parses is valid, ordered, and survives a round trip.
		var buf bytes.Buffer
		for i, r := range recs {
			if r.validate() != nil || (i > 0 && r.Timestamp < recs[i-1].Timestamp) {
				t.Fatalf("record %d %+v invalid or out of order", i, r)
			}
			line, _ := json.Marshal(r)
			buf.Write(append(line, '\n'))
		}
		again, err := ParseTrace(&buf)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(recs, again, cmp.Comparer(func(a, b []uint64) bool { return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b)) })); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func TestSampleTraceFile(t *testing.T) {
	f, err := os.Open("testdata/sample-trace.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ParseTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 48 {
		t.Errorf("%d records, want 48", len(recs))
	}
}

var update = flag.Bool("update", false, "rewrite the shipped sample trace from its generator")

// The shipped sample is exactly what its documented generator writes.
func TestShippedTrace(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTrace(&buf, SampleTraceHeader, DefaultTraceGen().Generate()); err != nil {
		t.Fatal(err)
	}
	const path = "traces/synthetic-mooncake.jsonl"
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shipped, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shipped, buf.Bytes()) {
		t.Fatalf("%s is not DefaultTraceGen's output; regenerate with -update", path)
	}
	recs := SampleTrace()
	if len(recs) != 2000 || recs[0].Timestamp != 0 {
		t.Fatalf("%d records from %v ms, want 2000 from 0", len(recs), recs[0].Timestamp)
	}
	// Ids are consecutive in order of first use; records share them.
	next, shared, maxLen := uint64(0), 0, 0
	seen := map[uint64]bool{}
	for _, rec := range recs {
		reused := false
		for _, h := range rec.HashIDs {
			switch {
			case seen[h]:
				reused = true
			case h != next:
				t.Fatalf("id %d first used where %d was next", h, next)
			default:
				seen[h] = true
				next++
			}
		}
		if reused {
			shared++
		}
		if n := len(rec.HashIDs); (n-1)*512 >= rec.InputLength || n*512 < rec.InputLength {
			t.Errorf("%d ids for %d input tokens: the last block must be partial", n, rec.InputLength)
		}
		maxLen = max(maxLen, rec.InputLength)
	}
	if shared < 1500 || maxLen < 16*512 {
		t.Errorf("%d of 2000 records reuse a block, the longest input is %d tokens: want most sharing and long sessions", shared, maxLen)
	}
	t.Logf("%d of %d records reuse a block; %d distinct blocks; longest input %d tokens", shared, len(recs), next, maxLen)
}
