package router

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router/endpoint"
)

// The official OpenAI Go client works against the router: chat,
// completions, and streaming of both.
func TestOpenAIClient(t *testing.T) {
	a, b := startEngine(t), startEngine(t)
	f := startRouter(t, testConfig(), specs(a, b))
	client := openai.NewClient(option.WithBaseURL(f.url+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	ctx := context.Background()

	t.Run("chat", func(t *testing.T) {
		res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:     testModel,
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello")},
			MaxTokens: openai.Int(6),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Choices) != 1 || res.Choices[0].Message.Content == "" || res.Usage.CompletionTokens != 6 {
			t.Errorf("unexpected answer %+v", res)
		}
	})
	t.Run("completion", func(t *testing.T) {
		res, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model:     openai.CompletionNewParamsModel(testModel),
			Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
			MaxTokens: openai.Int(4),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Choices) != 1 || res.Choices[0].Text == "" || res.Usage.CompletionTokens != 4 {
			t.Errorf("unexpected answer %+v", res)
		}
	})
	t.Run("chat streaming", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         testModel,
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story")},
			MaxTokens:     openai.Int(8),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if got := acc.Choices[0].Message.Content; len(strings.Fields(got)) != 8 || acc.Usage.CompletionTokens != 8 {
			t.Errorf("accumulated %q, usage %+v; want 8 words", got, acc.Usage)
		}
	})
	t.Run("completion streaming", func(t *testing.T) {
		stream := client.Completions.NewStreaming(ctx, openai.CompletionNewParams{
			Model:     openai.CompletionNewParamsModel(testModel),
			Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
			MaxTokens: openai.Int(5),
		})
		n := 0
		for stream.Next() {
			if len(stream.Current().Choices) > 0 {
				n++
			}
		}
		if err := stream.Err(); err != nil || n != 5 {
			t.Errorf("%d chunks, err %v; want 5", n, err)
		}
	})
	t.Run("unknown model is a NotFound error", func(t *testing.T) {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "no-such-model", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")},
		})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
			t.Errorf("error %v, want a 404 openai.Error", err)
		}
	})
}

// A stream cut by an engine crash surfaces in the OpenAI client as a
// stream error, not as a truncated success.
func TestOpenAIClientSeesStreamError(t *testing.T) {
	victim := startEngine(t, timeScale(1), faults(server.Faults{CrashAfter: 1}))
	f := startRouter(t, testConfig(), []endpoint.Spec{named(victim, "victim")})
	client := openai.NewClient(option.WithBaseURL(f.url+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	stream := client.Completions.NewStreaming(context.Background(), openai.CompletionNewParams{
		Model:     openai.CompletionNewParamsModel(testModel),
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("a long story")},
		MaxTokens: openai.Int(100000),
	})
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	// The victim's second request crashes it, cutting the stream.
	go func() {
		_, _ = client.Completions.New(context.Background(), openai.CompletionNewParams{Model: testModel, Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}})
	}()
	for stream.Next() {
	}
	var se *ssestream.StreamError
	if err := stream.Err(); !errors.As(err, &se) {
		t.Errorf("stream error %v (%T), want an ssestream.StreamError", err, err)
	}
}
