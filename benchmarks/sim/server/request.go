package server

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

// Kind is the endpoint a request came to.
type Kind int

const (
	// Chat is POST /v1/chat/completions.
	Chat Kind = iota
	// Completion is POST /v1/completions.
	Completion
)

// Request is the part of an OpenAI request the simulator reads; everything
// else (temperature, stop, tools, ...) is accepted and ignored.
type Request struct {
	Model               string              `json:"model"`
	Messages            []tokenizer.Message `json:"messages"`
	Prompt              json.RawMessage     `json:"prompt"`
	MaxTokens           *int                `json:"max_tokens"`
	MaxCompletionTokens *int                `json:"max_completion_tokens"`
	Stream              bool                `json:"stream"`
	StreamOptions       *StreamOptions      `json:"stream_options"`
	N                   *int                `json:"n"`
	Seed                *int64              `json:"seed"`
	IgnoreEOS           bool                `json:"ignore_eos"`
	// Priority is vLLM's extension (default 0): with --scheduling-policy
	// priority lower values are served first; with fcfs it is ignored.
	Priority int `json:"priority"`
	// Chat template switches (vLLM's ChatCompletionRequest and
	// TokenizeChatRequest): add_generation_prompt defaults to true.
	AddGenerationPrompt  *bool             `json:"add_generation_prompt"`
	ContinueFinalMessage bool              `json:"continue_final_message"`
	KVTransferParams     *KVTransferParams `json:"kv_transfer_params"`
	// SGLang disaggregation fields; only their presence matters here.
	BootstrapHost *string         `json:"bootstrap_host"`
	BootstrapPort json.RawMessage `json:"bootstrap_port"`
	BootstrapRoom json.RawMessage `json:"bootstrap_room"`

	kind Kind
}

// StreamOptions are OpenAI's stream_options.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// KVTransferParams are vLLM's P/D hand-off fields (NIXL connector at
// v0.11.2). A client sends do_remote_decode (the other members null) to a
// prefill instance; the prefill instance answers with all seven members:
// do_remote_prefill true and where its blocks are; the client passes those
// on to a decode instance. Members a request leaves null decode as zero.
type KVTransferParams struct {
	DoRemoteDecode  bool   `json:"do_remote_decode"`
	DoRemotePrefill bool   `json:"do_remote_prefill"`
	RemoteEngineID  string `json:"remote_engine_id"`
	RemoteBlockIDs  []int  `json:"remote_block_ids"`
	RemoteHost      string `json:"remote_host"`
	RemotePort      int    `json:"remote_port"`
	TPSize          int    `json:"tp_size"`
}

// ParseRequest decodes and checks a request body. It reports client errors
// as 400 APIErrors and never panics, whatever the body.
func ParseRequest(kind Kind, body []byte) (*Request, *APIError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, badRequest("", "the request body must be a JSON object")
	}
	var r Request
	if err := json.Unmarshal(trimmed, &r); err != nil {
		return nil, badRequest("", "invalid JSON body: %v", err)
	}
	r.kind = kind
	switch {
	case r.Model == "":
		return nil, badRequest("model", "the model field is required")
	case r.MaxTokens != nil && *r.MaxTokens < 1:
		return nil, badRequest("max_tokens", "max_tokens must be at least 1, got %d", *r.MaxTokens)
	case r.MaxCompletionTokens != nil && *r.MaxCompletionTokens < 1:
		return nil, badRequest("max_completion_tokens", "max_completion_tokens must be at least 1, got %d", *r.MaxCompletionTokens)
	case r.N != nil && *r.N != 1:
		return nil, badRequest("n", "tandem-sim supports only n=1, got %d", *r.N)
	case kind == Chat && len(r.Messages) == 0:
		return nil, badRequest("messages", "messages must be a non-empty array")
	case kind == Completion && isNull(r.Prompt):
		return nil, badRequest("prompt", "the prompt field is required")
	}
	return &r, nil
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// RequestedMaxTokens is max_completion_tokens, else max_tokens, else 0.
func (r *Request) RequestedMaxTokens() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// IncludeUsage reports stream_options.include_usage.
func (r *Request) IncludeUsage() bool { return r.StreamOptions != nil && r.StreamOptions.IncludeUsage }

// HasBootstrap reports SGLang disaggregation fields.
func (r *Request) HasBootstrap() bool {
	return (r.BootstrapHost != nil && *r.BootstrapHost != "") || !isNull(r.BootstrapRoom)
}

// PromptTokens renders and tokenizes the prompt: chat messages through the
// chat template; a completion prompt given as a string, a one-string array,
// an array of token ids, or a one-element array of such arrays.
func (r *Request) PromptTokens() ([]uint32, *APIError) {
	var toks []uint32
	if r.kind == Chat {
		text, err := tokenizer.RenderChatWith(r.Messages, r.renderOptions())
		if err != nil {
			return nil, badRequest("messages", "%v", err)
		}
		toks = tokenizer.Encode(text)
	} else {
		var err *APIError
		if toks, err = completionPrompt(r.Prompt); err != nil {
			return nil, err
		}
	}
	if len(toks) == 0 {
		return nil, badRequest("prompt", "the prompt is empty")
	}
	return toks, nil
}

func (r *Request) renderOptions() tokenizer.RenderOptions {
	gen := r.AddGenerationPrompt == nil || *r.AddGenerationPrompt
	if r.AddGenerationPrompt == nil && r.ContinueFinalMessage {
		gen = false // vLLM checks the fields as sent: only an explicit true conflicts
	}
	return tokenizer.RenderOptions{AddGenerationPrompt: gen, ContinueFinalMessage: r.ContinueFinalMessage}
}

func completionPrompt(raw json.RawMessage) ([]uint32, *APIError) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return tokenizer.Encode(text), nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil {
		if len(texts) != 1 {
			return nil, badRequest("prompt", "tandem-sim takes one prompt per request, got %d", len(texts))
		}
		return tokenizer.Encode(texts[0]), nil
	}
	var ids []uint32
	if json.Unmarshal(raw, &ids) == nil {
		return ids, nil
	}
	var batches [][]uint32
	if json.Unmarshal(raw, &batches) == nil {
		if len(batches) != 1 {
			return nil, badRequest("prompt", "tandem-sim takes one prompt per request, got %d", len(batches))
		}
		return batches[0], nil
	}
	return nil, badRequest("prompt", "prompt must be a string, an array of one string, or token ids")
}
