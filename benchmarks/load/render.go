package load

import (
	"encoding/json"
	"strings"
)

// APIs a request can be sent to.
const (
	// APIChat sends messages to /v1/chat/completions.
	APIChat = "chat"
	// APICompletions sends the messages' contents, joined by newlines, as
	// the prompt of /v1/completions.
	APICompletions = "completions"
)

// Path is the URL path of the API.
func Path(api string) string {
	if api == APICompletions {
		return "/v1/completions"
	}
	return "/v1/chat/completions"
}

// CompletionPrompt is the prompt a completions request carries.
func CompletionPrompt(msgs []Message) string {
	parts := make([]string, len(msgs))
	for i, m := range msgs {
		parts[i] = m.Content
	}
	return strings.Join(parts, "\n")
}

// body is the JSON of one streaming request. ignore_eos is vLLM's: it makes
// an engine generate exactly max_tokens; without it the engine ends the
// answer where it likes, at most max_tokens.
type body struct {
	Model         string         `json:"model"`
	Messages      []Message      `json:"messages,omitempty"`
	Prompt        string         `json:"prompt,omitempty"`
	MaxTokens     int            `json:"max_tokens"`
	Stream        bool           `json:"stream"`
	StreamOptions map[string]any `json:"stream_options"`
	IgnoreEOS     bool           `json:"ignore_eos,omitempty"`
	Temperature   float64        `json:"temperature"`
}

// Body is the request's JSON for the API.
func Body(api, model string, r *Request) ([]byte, error) {
	b := body{
		Model: model, MaxTokens: r.MaxTokens, Stream: true, IgnoreEOS: r.IgnoreEOS,
		StreamOptions: map[string]any{"include_usage": true},
	}
	if api == APICompletions {
		b.Prompt = CompletionPrompt(r.Messages)
	} else {
		b.Messages = r.Messages
	}
	return json.Marshal(b)
}
