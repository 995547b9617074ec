// Package tokenize gets a request's prompt token ids as the engine will
// see them, from the engine's own tokenizer: vLLM's POST /tokenize. The
// router's exact prefix index (package kvindex) keys blocks by token ids,
// so no tokenizer lives in the router and the engine's chat template,
// special tokens and tokenizer version always apply.
//
// # The engine's endpoint
//
// vLLM's OpenAI server has served POST /tokenize since well before v0.11;
// at v0.11.2 its request is a union (vllm/entrypoints/openai/protocol.py):
//
//	TokenizeCompletionRequest  model?, prompt: str, add_special_tokens=true, return_token_strs=false
//	TokenizeChatRequest        model?, messages, add_generation_prompt=true,
//	                           continue_final_message=false (not both true),
//	                           add_special_tokens=false, chat_template?,
//	                           chat_template_kwargs?, mm_processor_kwargs?, tools?,
//	                           return_token_strs=false
//	TokenizeResponse           count, max_model_len, tokens: [int], token_strs?
//
// (on later main the same types live in vllm/entrypoints/serve/tokenize/
// protocol.py). The chat defaults equal ChatCompletionRequest's, so the
// router forwards the request's own model and messages and those of the
// other members it has, and sets add_generation_prompt true unless the
// request set it or continue_final_message: the tokens are those of the
// prompt the completion request renders. A completion prompt of token ids
// is its own answer; a one-string array is sent as its string; batches are
// not tokenized. vLLM added render endpoints (POST
// /v1/chat/completions/render, /v1/completions/render, PR #32473,
// 2026-01) after v0.11; /tokenize works on every version, so it is what is
// used.
//
// # The cache and its prefix rule
//
// Engine calls are few: results are cached (an LRU bounded in tokens) by a
// key of the model, the request kind, the members above that shape
// rendering (raw bytes) and the router's canonical rendering of the prompt
// (package request). A repeated prompt is answered from the cache.
//
// A conversation's next turn repeats its history: for a chat the cache is
// also keyed at every message boundary of the rendering, and a miss on the
// whole prompt falls back to the longest cached message prefix m0..mj of
// it. Its tokens T (the tokenization of m0..mj with the generation prompt)
// are reused only as far as is safe:
//
//  1. the model and every rendering member are byte-identical, and
//     m0..mj are the request's own first messages byte for byte (both are
//     in the key);
//  2. only T's full blocks before its last full block are reused: what the
//     template appends after the last message (the generation prompt,
//     3–5 tokens in common templates) is never reused, as long as it is
//     shorter than a block;
//  3. the template has not been caught rewriting history (some drop earlier
//     turns' reasoning, or render the system prompt after the last user
//     turn): every reuse is checked off the request path against a full
//     tokenization of the new prompt, which then fills the cache for the
//     next turn, and the first mismatch turns reuse off for that model
//     (tandem_router_tokenize_prefix_mismatches_total).
//
// The rest of the prompt's token count is estimated from its bytes at T's
// own tokens per byte. Wrong tokens could only misroute, never fail a
// request: routing is the only use of them.
package tokenize
