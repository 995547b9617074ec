package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// tokenizeRequest is vLLM's TokenizeRequest (vllm/entrypoints/openai/
// protocol.py at v0.11.2): a completion prompt, or chat messages rendered
// by the model's chat template with the generation prompt, as a chat
// request is.
type tokenizeRequest struct {
	Model               string    `json:"model"`
	Prompt              *string   `json:"prompt,omitempty"`
	Messages            []Message `json:"messages,omitempty"`
	AddGenerationPrompt *bool     `json:"add_generation_prompt,omitempty"`
}

type tokenizeResponse struct {
	Count  int      `json:"count"`
	Tokens []uint32 `json:"tokens"`
}

// Tokenize asks an engine's POST /tokenize for the token ids a request of
// this API with these messages is computed from. The harness counts
// tokens only this way: what the engine's tokenizer says, whichever engine
// it is, never its own idea of one.
func Tokenize(ctx context.Context, hc *http.Client, base, api, model string, msgs []Message) ([]uint32, error) {
	tr := tokenizeRequest{Model: model}
	if api == APICompletions {
		p := CompletionPrompt(msgs)
		tr.Prompt = &p
	} else {
		yes := true
		tr.Messages, tr.AddGenerationPrompt = msgs, &yes
	}
	body, err := json.Marshal(tr)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/tokenize", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tokenize at %s: %w", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("tokenize at %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("tokenize at %s: status %d: %.200s", base, resp.StatusCode, b)
	}
	var out tokenizeResponse
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("tokenize at %s: %w", base, err)
	}
	if out.Count != len(out.Tokens) {
		return nil, fmt.Errorf("tokenize at %s: count %d but %d tokens", base, out.Count, len(out.Tokens))
	}
	return out.Tokens, nil
}
