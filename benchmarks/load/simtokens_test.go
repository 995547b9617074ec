package load

import (
	"encoding/json"

	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

// simTokens is the prompt as tandem-sim tokenizes it, for tests of pure
// functions that need token ids without an engine to ask.
func simTokens(api string, msgs []Message) ([]uint32, error) {
	if api == APICompletions {
		return tokenizer.Encode(CompletionPrompt(msgs)), nil
	}
	tm := make([]tokenizer.Message, len(msgs))
	for i, m := range msgs {
		content, err := json.Marshal(m.Content)
		if err != nil {
			return nil, err
		}
		tm[i] = tokenizer.Message{Role: m.Role, Content: content}
	}
	text, err := tokenizer.RenderChat(tm)
	if err != nil {
		return nil, err
	}
	return tokenizer.Encode(text), nil
}
