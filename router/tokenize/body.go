package tokenize

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/tandem-serving/tandem/router/request"
)

// chatMembers are the chat completion members that TokenizeChatRequest
// shares (vLLM v0.11.2) and that shape the rendered prompt.
var chatMembers = []string{
	"add_generation_prompt", "continue_final_message", "add_special_tokens",
	"chat_template", "chat_template_kwargs", "tools", "mm_processor_kwargs",
}

// completionMembers are TokenizeCompletionRequest's.
var completionMembers = []string{"add_special_tokens"}

func members(kind request.Kind) []string {
	if kind == request.Chat {
		return chatMembers
	}
	return completionMembers
}

// ErrUnsupported is a prompt /tokenize cannot take (a batch of prompts).
var ErrUnsupported = errors.New("prompt shape not tokenizable")

// Body appends to dst the /tokenize request body for req. When the prompt
// already is token ids, it returns them instead and no body.
func Body(dst []byte, req *request.Request) (body []byte, ids []uint32, err error) {
	dst = append(dst, `{"model":`...)
	dst = append(dst, req.Raw(request.FieldModel)...)
	if req.Kind == request.Chat {
		dst = append(dst, `,"messages":`...)
		dst = append(dst, req.Raw(request.FieldMessages)...)
	} else {
		prompt, ids, err := completionPrompt(req.Raw(request.FieldPrompt))
		if err != nil || ids != nil {
			return nil, ids, err
		}
		dst = append(dst, `,"prompt":`...)
		dst = append(dst, prompt...)
	}
	for _, k := range members(req.Kind) {
		if v := req.Member(k); v != nil {
			dst = append(dst, `,"`...)
			dst = append(dst, k...)
			dst = append(dst, `":`...)
			dst = append(dst, v...)
		}
	}
	if req.Kind == request.Chat && req.Member("add_generation_prompt") == nil && req.Member("continue_final_message") == nil {
		dst = append(dst, `,"add_generation_prompt":true`...)
	}
	return append(dst, '}'), nil, nil
}

// completionPrompt reads a completion prompt: a string is sent as is, one
// string in an array as that string, token ids (or one array of them) are
// the answer.
func completionPrompt(raw []byte) (prompt []byte, ids []uint32, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		return raw, nil, nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil && len(texts) == 1 {
		p, err := json.Marshal(texts[0])
		return p, nil, err
	}
	if json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
		return nil, ids, nil
	}
	var batch [][]uint32
	if json.Unmarshal(raw, &batch) == nil && len(batch) == 1 && len(batch[0]) > 0 {
		return nil, batch[0], nil
	}
	return nil, nil, ErrUnsupported
}

// response is vLLM's TokenizeResponse; count and max_model_len are not
// needed.
type response struct {
	Tokens []uint32 `json:"tokens"`
}
