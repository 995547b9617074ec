package kvindex

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tandem-serving/tandem/benchmarks/sim/kv"
	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
	"github.com/tandem-serving/tandem/router/request"
)

// Tokenizer turns a parsed request into the engine's block hashes.
type Tokenizer interface {
	// Hashes appends to dst the engine's hashes of the prompt's full
	// blocks of blockTokens tokens and returns them with the prompt's
	// token count; ok is false when the prompt cannot be tokenized.
	Hashes(dst []uint64, req *request.Request, blockTokens int) (hashes []uint64, tokens int, ok bool)
}

// Tokenizers are the profiles on offer, by config name.
var Tokenizers = map[string]Tokenizer{"tandem-sim": SimTokenizer{}}

// SimTokenizer is tandem-sim's tokenizer and block hash: the request is
// rendered with the simulator's Llama-3 chat template, tokenized by its
// byte rule and hashed in its FNV chain seeded by the model name, by the
// simulator's own code, so the hashes equal the ones its KV events carry.
type SimTokenizer struct{}

func (SimTokenizer) Hashes(dst []uint64, req *request.Request, blockTokens int) ([]uint64, int, bool) {
	var toks []uint32
	if req.Kind == request.Chat {
		msgs, err := simMessages(req.Prompt)
		if err != nil {
			return dst, 0, false
		}
		text, err := tokenizer.RenderChat(msgs)
		if err != nil {
			return dst, 0, false
		}
		toks = tokenizer.Encode(text)
	} else {
		var ok bool
		if toks, ok = simCompletion(req.Raw(request.FieldPrompt)); !ok {
			return dst, 0, false
		}
	}
	if blockTokens <= 0 {
		return dst, len(toks), true
	}
	return kv.AppendBlockHashes(dst, kv.Seed(req.Model), toks, blockTokens), len(toks), true
}

// simMessages reads the messages back from the router's canonical
// rendering (package request): role 0x1F content [0x1F other]... 0x1E.
func simMessages(prompt []byte) ([]tokenizer.Message, error) {
	var msgs []tokenizer.Message
	for _, rec := range bytes.Split(prompt, []byte{0x1E}) {
		if len(rec) == 0 {
			continue
		}
		role, rest, found := bytes.Cut(rec, []byte{0x1F})
		if !found {
			return nil, fmt.Errorf("malformed rendering")
		}
		content, _, _ := bytes.Cut(rest, []byte{0x1F})
		raw, err := json.Marshal(string(content))
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, tokenizer.Message{Role: string(role), Content: raw})
	}
	return msgs, nil
}

// simCompletion tokenizes a completion prompt as the simulator does: a
// string, a one-string array, token ids, or a one-element batch of ids.
func simCompletion(raw []byte) ([]uint32, bool) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return tokenizer.Encode(text), true
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil && len(texts) == 1 {
		return tokenizer.Encode(texts[0]), true
	}
	var ids []uint32
	if json.Unmarshal(raw, &ids) == nil {
		return ids, true
	}
	var batch [][]uint32
	if json.Unmarshal(raw, &batch) == nil && len(batch) == 1 {
		return batch[0], true
	}
	return nil, false
}
