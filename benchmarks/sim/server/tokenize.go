package server

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

// tokenizeRequest is vLLM's TokenizeRequest, the union of
// TokenizeCompletionRequest (prompt) and TokenizeChatRequest (messages),
// as in vllm/entrypoints/openai/protocol.py at v0.11.2. Fields the
// simulator's template has no use for (chat_template, chat_template_kwargs,
// tools, mm_processor_kwargs) are accepted and ignored; add_special_tokens
// too, since the simulator's tokenizer adds no tokens of its own (the chat
// template writes its markers as text, which tokenizes one token each).
type tokenizeRequest struct {
	Model                string              `json:"model"`
	Prompt               *string             `json:"prompt"`
	Messages             []tokenizer.Message `json:"messages"`
	AddGenerationPrompt  *bool               `json:"add_generation_prompt"`
	ContinueFinalMessage bool                `json:"continue_final_message"`
	AddSpecialTokens     *bool               `json:"add_special_tokens"`
	ReturnTokenStrs      bool                `json:"return_token_strs"`
}

// tokenizeResponse is vLLM's TokenizeResponse.
type tokenizeResponse struct {
	Count       int      `json:"count"`
	MaxModelLen int      `json:"max_model_len"`
	Tokens      []uint32 `json:"tokens"`
	TokenStrs   []string `json:"token_strs"`
}

// tokenize is POST /tokenize: the token ids a completion request with the
// same prompt or messages (and template switches) is computed from.
func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, badRequest("", "reading the body: %v", err))
		return
	}
	var tr tokenizeRequest
	if err := json.Unmarshal(body, &tr); err != nil {
		writeError(w, badRequest("", "invalid JSON body: %v", err))
		return
	}
	if tr.Model != "" && tr.Model != s.opts.Model {
		writeError(w, notFound("model", "The model `%s` does not exist.", tr.Model))
		return
	}
	var text string
	switch {
	case tr.Messages != nil:
		req := Request{Messages: tr.Messages, AddGenerationPrompt: tr.AddGenerationPrompt, ContinueFinalMessage: tr.ContinueFinalMessage, kind: Chat}
		if text, err = tokenizer.RenderChatWith(tr.Messages, req.renderOptions()); err != nil {
			writeError(w, badRequest("messages", "%v", err))
			return
		}
	case tr.Prompt != nil:
		text = *tr.Prompt
	default:
		writeError(w, badRequest("prompt", "prompt (a string) or messages is required"))
		return
	}
	resp := tokenizeResponse{MaxModelLen: s.eng.Params().MaxModelLen, Tokens: tokenizer.Encode(text)}
	resp.Count = len(resp.Tokens)
	if tr.ReturnTokenStrs {
		resp.TokenStrs = tokenizer.Pieces(text)
	}
	writeJSON(w, resp)
}
