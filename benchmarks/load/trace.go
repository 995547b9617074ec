package load

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"
)

// TraceRecord is one line of a trace in Mooncake's JSONL format
// (github.com/kvcache-ai/Mooncake, FAST'25 traces):
//
//	{"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 1, 2]}
//
// timestamp is the arrival in milliseconds from the trace's start;
// hash_ids name the prompt's blocks of TraceBlockTokens tokens (512 in
// Mooncake's traces): equal ids mean equal content, so the ids encode the
// trace's prefix sharing without its text.
type TraceRecord struct {
	Timestamp    float64  `json:"timestamp"`
	InputLength  int      `json:"input_length"`
	OutputLength int      `json:"output_length"`
	HashIDs      []uint64 `json:"hash_ids"`
}

// maxTraceLine bounds one JSONL line (a 128k-token prompt of 512-token
// blocks has 256 ids; a megabyte is plenty).
const maxTraceLine = 1 << 20

// maxTraceTokens bounds a record's lengths: more than any model's context.
const maxTraceTokens = 1 << 24

// ParseTrace reads a JSONL trace: one record per line, blank lines and
// lines starting with # skipped, unknown fields ignored. Records are
// returned in timestamp order (stable for equal times). Errors name the line.
func ParseTrace(r io.Reader) ([]TraceRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxTraceLine)
	var out []TraceRecord
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		var rec TraceRecord
		if err := json.Unmarshal(text, &rec); err != nil {
			return nil, fmt.Errorf("trace line %d: %w", line, err)
		}
		if err := rec.validate(); err != nil {
			return nil, fmt.Errorf("trace line %d: %w", line, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("trace: a line is longer than %d bytes", maxTraceLine)
		}
		return nil, fmt.Errorf("trace: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	return out, nil
}

func (r TraceRecord) validate() error {
	switch {
	case math.IsNaN(r.Timestamp) || r.Timestamp < 0 || r.Timestamp > float64(math.MaxInt64/time.Millisecond):
		return fmt.Errorf("timestamp %v: want milliseconds from the trace start", r.Timestamp)
	case r.InputLength < 1 || r.InputLength > maxTraceTokens:
		return fmt.Errorf("input_length %d: want 1 to %d", r.InputLength, maxTraceTokens)
	case r.OutputLength < 1 || r.OutputLength > maxTraceTokens:
		return fmt.Errorf("output_length %d: want 1 to %d", r.OutputLength, maxTraceTokens)
	case len(r.HashIDs) > r.InputLength:
		return fmt.Errorf("%d hash_ids for %d input tokens", len(r.HashIDs), r.InputLength)
	}
	return nil
}

// trace builds each record's prompt from its blocks: block id h is
// TraceBlockTokens words of stream (seed, block, h), so equal ids give equal
// text, cut short where input_length ends inside a block; unique filler
// words make up any rest. Arrivals keep the trace's timestamps.
func (s Spec) trace() []Request {
	recs := s.Trace
	if s.Requests > 0 && s.Requests < len(recs) {
		recs = recs[:s.Requests]
	}
	reqs := make([]Request, len(recs))
	var text bytes.Buffer
	for i, rec := range recs {
		text.Reset()
		left := rec.InputLength
		for _, h := range rec.HashIDs {
			n := min(left, s.TraceBlockTokens)
			text.WriteString(Text(n, Prose, s.Seed, purposeBlock, h))
			if left -= n; left == 0 {
				break
			}
		}
		text.WriteString(Text(left, Prose, s.Seed, purposeFiller, uint64(i)))
		key := uint64(1)<<63 | uint64(i) // no shared block: a family of its own
		if len(rec.HashIDs) > 0 {
			key = rec.HashIDs[0]
		}
		maxTokens := s.OutputTokens // a client does not know the output length
		if s.FixedOutput {
			maxTokens = rec.OutputLength
		}
		reqs[i] = Request{
			Index: i, Key: key, After: -1, MaxTokens: maxTokens,
			Messages: []Message{{Role: "user", Content: text.String()}},
			At:       time.Duration(rec.Timestamp * float64(time.Millisecond)),
		}
	}
	return reqs
}
