package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

type usage struct {
	PromptTokens        int           `json:"prompt_tokens"`
	TotalTokens         int           `json:"total_tokens"`
	CompletionTokens    int           `json:"completion_tokens"`
	PromptTokensDetails *promptDetail `json:"prompt_tokens_details"`
}

type promptDetail struct {
	CachedTokens int `json:"cached_tokens"`
}

func usageOf(res engine.Result) usage {
	return usage{
		PromptTokens:        res.PromptTokens,
		CompletionTokens:    res.CompletionTokens,
		TotalTokens:         res.PromptTokens + res.CompletionTokens,
		PromptTokensDetails: &promptDetail{CachedTokens: res.CachedTokens},
	}
}

type chatMessage struct {
	Role      string `json:"role"`
	Content   string `json:"content"`
	ToolCalls []any  `json:"tool_calls"`
}

type choice struct {
	Index        int          `json:"index"`
	Message      *chatMessage `json:"message,omitempty"`
	Text         *string      `json:"text,omitempty"`
	Logprobs     any          `json:"logprobs"`
	FinishReason string       `json:"finish_reason"`
	StopReason   any          `json:"stop_reason"`
}

type completionResponse struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Created          int64             `json:"created"`
	Model            string            `json:"model"`
	Choices          []choice          `json:"choices"`
	Usage            usage             `json:"usage"`
	KVTransferParams *KVTransferParams `json:"kv_transfer_params"`
}

// response writes one request's answer.
type response struct {
	s       *Server
	kind    Kind
	id      string
	created int64
	h       *engine.Handle
	prefill bool
}

func (s *Server) newResponse(kind Kind, requestID string, h *engine.Handle, prefill bool) *response {
	prefix := "cmpl"
	if kind == Chat {
		prefix = "chatcmpl"
	}
	return &response{s: s, kind: kind, id: s.responseID(prefix, requestID), created: time.Now().Unix(), h: h, prefill: prefill}
}

func (o *response) object(chunk bool) string {
	switch {
	case o.kind == Completion:
		return "text_completion"
	case chunk:
		return "chat.completion.chunk"
	}
	return "chat.completion"
}

func engineFailed(w http.ResponseWriter, err error) {
	writeError(w, &APIError{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailableError", Message: err.Error()})
}

// whole answers with one JSON document once generation is done.
func (o *response) whole(w http.ResponseWriter, ctx context.Context) {
	if !waitAll(ctx, o.h) {
		return
	}
	res := o.h.Result()
	if res.Err != nil {
		engineFailed(w, res.Err)
		return
	}
	text := engine.OutputText(o.h.OutputSeed(), 0, res.CompletionTokens)
	c := choice{FinishReason: finishReason(res)}
	if o.kind == Chat {
		c.Message = &chatMessage{Role: "assistant", Content: text, ToolCalls: []any{}}
	} else {
		c.Text = &text
	}
	resp := completionResponse{
		ID: o.id, Object: o.object(false), Created: o.created, Model: o.s.opts.Model,
		Choices: []choice{c}, Usage: usageOf(res),
	}
	if o.prefill {
		resp.KVTransferParams = o.s.transferParams(res)
	}
	writeJSON(w, resp)
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, internalError("encoding the response: %v", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// finishReason is vLLM's: "stop" at an end of sequence, "length" at
// max_tokens.
func finishReason(res engine.Result) string {
	if res.Stopped {
		return "stop"
	}
	return "length"
}
