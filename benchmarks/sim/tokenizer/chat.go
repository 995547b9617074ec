package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Message is one chat message as OpenAI clients send it. Content is either a
// JSON string, an array of content parts, or null.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name,omitempty"`
}

type contentPart struct {
	Type string  `json:"type"`
	Text *string `json:"text"`
}

// Llama-3 template markers. The simulator renders every model with this
// template; only its determinism matters, not its exact text.
const (
	beginOfText = "<|begin_of_text|>"
	startHeader = "<|start_header_id|>"
	endHeader   = "<|end_header_id|>\n\n"
	endOfTurn   = "<|eot_id|>"
)

// RenderOptions are the chat template switches of vLLM's chat and tokenize
// requests (add_generation_prompt, continue_final_message).
type RenderOptions struct {
	// AddGenerationPrompt appends the assistant header after the last
	// message (vLLM's default).
	AddGenerationPrompt bool
	// ContinueFinalMessage leaves the last message open (no end of turn,
	// no generation prompt) for the model to continue.
	ContinueFinalMessage bool
}

// RenderChat renders messages with the generation prompt: RenderChatWith
// and AddGenerationPrompt.
func RenderChat(messages []Message) (string, error) {
	return RenderChatWith(messages, RenderOptions{AddGenerationPrompt: true})
}

// RenderChatWith renders messages into the single prompt string the engine
// sees, the way vLLM applies a Llama-3 chat template with add_generation_prompt:
//
//	<|begin_of_text|>{for each message: <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>}<|start_header_id|>assistant<|end_header_id|>\n\n
//
// Text parts of array content are joined with "\n". It fails on a missing
// role, a non-text part, or content that is neither string, array nor null.
// Without AddGenerationPrompt the assistant header is left out; with
// ContinueFinalMessage the last <|eot_id|> is too (and no header follows).
func RenderChatWith(messages []Message, o RenderOptions) (string, error) {
	if o.AddGenerationPrompt && o.ContinueFinalMessage {
		return "", errors.New("add_generation_prompt and continue_final_message cannot both be true")
	}
	if len(messages) == 0 {
		return "", errors.New("messages must not be empty")
	}
	var b strings.Builder
	b.WriteString(beginOfText)
	for i, m := range messages {
		if m.Role == "" {
			return "", fmt.Errorf("messages[%d].role is required", i)
		}
		text, err := messageText(m.Content)
		if err != nil {
			return "", fmt.Errorf("messages[%d].content: %w", i, err)
		}
		b.WriteString(startHeader)
		b.WriteString(m.Role)
		b.WriteString(endHeader)
		b.WriteString(text)
		if !o.ContinueFinalMessage || i < len(messages)-1 {
			b.WriteString(endOfTurn)
		}
	}
	if o.AddGenerationPrompt {
		b.WriteString(startHeader)
		b.WriteString("assistant")
		b.WriteString(endHeader)
	}
	return b.String(), nil
}

func messageText(raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "" || s == "null":
		return "", nil
	case s[0] == '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", err
		}
		return text, nil
	case s[0] == '[':
		var parts []contentPart
		if err := json.Unmarshal(raw, &parts); err != nil {
			return "", err
		}
		texts := make([]string, 0, len(parts))
		for j, p := range parts {
			if p.Type != "text" || p.Text == nil {
				return "", fmt.Errorf("part %d: only text parts are supported, got type %q", j, p.Type)
			}
			texts = append(texts, *p.Text)
		}
		return strings.Join(texts, "\n"), nil
	}
	return "", errors.New("must be a string, an array of text parts, or null")
}
