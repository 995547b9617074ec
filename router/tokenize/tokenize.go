package tokenize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tandem-serving/tandem/router/request"
)

// Source says where a request's token ids came from.
type Source string

const (
	// FromIDs: the completion prompt was token ids.
	FromIDs Source = "token-ids"
	// FromCache: the whole prompt was cached.
	FromCache Source = "cache"
	// FromPrefix: the longest cached message prefix (package doc).
	FromPrefix Source = "prefix-cache"
	// FromEngine: the engine's /tokenize answered.
	FromEngine Source = "engine"
)

// Result is a request's prompt tokens.
type Result struct {
	// Tokens are the prompt's leading token ids: all of them, or for
	// FromPrefix a safe prefix.
	Tokens []uint32
	// PromptTokens is the prompt's token count, estimated for FromPrefix.
	PromptTokens int
	Source       Source
}

// Config tunes a Tokenizer.
type Config struct {
	// Timeout bounds one engine call.
	Timeout time.Duration
	// BlockTokens is the engines' KV block size: the prefix rule's unit.
	BlockTokens int
	// CacheTokens bounds the cache.
	CacheTokens int
}

// Tokenizer asks engines' /tokenize and caches the answers. It is safe for
// concurrent use.
type Tokenizer struct {
	cfg    Config
	client *http.Client
	cache  *Cache
	// background limits checks of prefix reuse to a few at a time;
	// beyond that a check is skipped.
	background chan struct{}
	unsafe     sync.Map // model → struct{}: prefix reuse turned off
	wg         sync.WaitGroup

	// OnCall, if set, hears every engine call: its duration and error.
	OnCall func(d time.Duration, err error)
	// OnMismatch, if set, hears a model whose template failed the prefix
	// check.
	OnMismatch func(model string)
}

// New returns a Tokenizer sending over client (the router's pooled
// transport).
func New(cfg Config, client *http.Client) *Tokenizer {
	return &Tokenizer{cfg: cfg, client: client, cache: NewCache(cfg.CacheTokens), background: make(chan struct{}, 2)}
}

// Cached answers from the cache alone, given Keys(req): the whole prompt,
// or a chat's longest cached message prefix under the package's rule;
// otherwise ok is false. A prompt of token ids needs no cache: see Body.
func (t *Tokenizer) Cached(req *request.Request, keys []Key) (Result, bool) {
	if len(keys) == 0 {
		return Result{}, false
	}
	if toks, ok := t.cache.Get(keys[len(keys)-1]); ok {
		return Result{Tokens: toks, PromptTokens: len(toks), Source: FromCache}, true
	}
	if req.Kind != request.Chat || t.cfg.BlockTokens <= 0 {
		return Result{}, false
	}
	if _, off := t.unsafe.Load(req.Model); off {
		return Result{}, false
	}
	for i := len(keys) - 2; i >= 0; i-- {
		toks, ok := t.cache.Get(keys[i])
		if !ok {
			continue
		}
		bt := t.cfg.BlockTokens
		reuse := (len(toks)/bt - 1) * bt // drop the last full block: rule 2
		if reuse <= 0 {
			return Result{}, false
		}
		total := keys[len(keys)-1].Bytes
		est := len(toks) + int(float64(total-keys[i].Bytes)*float64(len(toks))/float64(max(keys[i].Bytes, 1)))
		return Result{Tokens: toks[:reuse], PromptTokens: max(est, reuse), Source: FromPrefix}, true
	}
	return Result{}, false
}

// Tokenize asks the engine at baseURL (http://host:port) for req's tokens
// within the configured timeout and caches them under Keys(req).
func (t *Tokenizer) Tokenize(ctx context.Context, baseURL string, req *request.Request, keys []Key) (Result, error) {
	body, ids, err := Body(nil, req)
	if err != nil {
		return Result{}, err
	}
	if ids != nil {
		return Result{Tokens: ids, PromptTokens: len(ids), Source: FromIDs}, nil
	}
	toks, err := t.call(ctx, baseURL, body)
	if err != nil {
		return Result{}, err
	}
	if len(keys) > 0 {
		t.cache.Put(keys[len(keys)-1], toks)
	}
	return Result{Tokens: toks, PromptTokens: len(toks), Source: FromEngine}, nil
}

// Check verifies a FromPrefix result off the request path (rule 3 of the
// package doc): it tokenizes the whole prompt, caches it for the next
// turn, and turns prefix reuse off for the model if the reused tokens were
// not its prefix. It copies what it needs from req; when enough checks are
// running it does nothing.
func (t *Tokenizer) Check(baseURL string, req *request.Request, keys []Key, reused []uint32) {
	select {
	case t.background <- struct{}{}:
	default:
		return
	}
	body, _, err := Body(nil, req)
	if err != nil || len(keys) == 0 {
		<-t.background
		return
	}
	model, key := req.Model, keys[len(keys)-1]
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer func() { <-t.background }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*t.cfg.Timeout)
		defer cancel()
		toks, err := t.call(ctx, baseURL, body)
		if err != nil {
			return
		}
		t.cache.Put(key, toks)
		if len(toks) < len(reused) || !slices.Equal(toks[:len(reused)], reused) {
			t.unsafe.Store(model, struct{}{})
			if t.OnMismatch != nil {
				t.OnMismatch(model)
			}
		}
	}()
}

// Wait blocks until background checks have finished.
func (t *Tokenizer) Wait() { t.wg.Wait() }

// PrefixReuse reports whether prefix reuse is still on for model.
func (t *Tokenizer) PrefixReuse(model string) bool {
	_, off := t.unsafe.Load(model)
	return !off
}

// ErrStatus is an engine answer other than 200.
var ErrStatus = errors.New("tokenize: engine answered an error")

func (t *Tokenizer) call(ctx context.Context, baseURL string, body []byte) (toks []uint32, err error) {
	start := time.Now()
	defer func() {
		if t.OnCall != nil {
			t.OnCall(time.Since(start), err)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/tokenize", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
		return nil, fmt.Errorf("%w: HTTP %d", ErrStatus, resp.StatusCode)
	}
	var r response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("tokenize: decode the answer: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // the rest (a newline): keep the connection reusable
	return r.Tokens, nil
}
