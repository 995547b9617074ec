package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// complete is the request path of both completion endpoints: faults, parse
// once, check, submit to the engine, then stream or answer whole.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, kind Kind) {
	// Read the body first: only then does net/http watch the connection and
	// cancel the request's context when the client goes away.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, &APIError{Status: http.StatusRequestEntityTooLarge, Type: "BadRequestError",
				Message: fmt.Sprintf("the request body exceeds %d bytes", maxBody)})
			return
		}
		writeError(w, badRequest("", "reading the request body: %v", err))
		return
	}
	if !s.inject(w, r) {
		return
	}
	req, apiErr := ParseRequest(kind, body)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	j, apiErr := s.prepare(req)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	h, err := s.eng.Submit(j.req)
	if err != nil {
		if errors.Is(err, engine.ErrStopped) {
			writeError(w, &APIError{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailableError", Message: err.Error()})
			return
		}
		writeError(w, badRequest("max_tokens", "%v", err))
		return
	}
	out := s.newResponse(kind, r.Header.Get("X-Request-Id"), h, j.prefill)
	if req.Stream {
		out.stream(w, r.Context(), req.IncludeUsage())
	} else {
		out.whole(w, r.Context())
	}
}

// inject applies the request's fault, if any. It returns false if the
// request has been answered (or deliberately left unanswered).
func (s *Server) inject(w http.ResponseWriter, r *http.Request) bool {
	act, delay := s.faults.decide()
	switch act {
	case crash:
		if s.opts.Crash != nil {
			s.opts.Crash()
		}
		panic(http.ErrAbortHandler) // no response: the connection is cut
	case hang:
		select {
		case <-r.Context().Done():
		case <-s.opts.Stopping:
		}
		panic(http.ErrAbortHandler)
	case fail:
		writeError(w, internalError("injected failure"))
		return false
	}
	if delay = time.Duration(float64(delay) * s.opts.TimeScale); delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}
	return true
}

type job struct {
	req     engine.Request
	prefill bool // answer with kv_transfer_params for a decode instance
}

// prepare turns a parsed request into an engine request.
func (s *Server) prepare(req *Request) (job, *APIError) {
	if req.Model != s.opts.Model {
		return job{}, notFound("model", "The model `%s` does not exist.", req.Model)
	}
	toks, apiErr := req.PromptTokens()
	if apiErr != nil {
		return job{}, apiErr
	}
	maxTokens := req.RequestedMaxTokens()
	if maxTokens == 0 {
		maxTokens = max(1, min(s.opts.DefaultMaxTokens, s.eng.Params().MaxModelLen-len(toks)))
	}
	ho := s.handoff(req)
	if ho.firstTokenOnly {
		maxTokens = 1
	}
	seed := engine.SeedFor(s.opts.Seed, toks)
	if req.Seed != nil {
		seed = engine.SeedFor(uint64(*req.Seed), nil)
	}
	stop := 0
	if !req.IgnoreEOS && !ho.firstTokenOnly {
		// Seeded by the output seed, so a P/D pair's two halves agree.
		stop = s.opts.Lengths.Draw(seed, maxTokens)
	}
	return job{
		req: engine.Request{Prompt: toks, MaxTokens: maxTokens, StopAfter: stop, OutputSeed: seed,
			RemotePrefill: ho.remote, Priority: req.Priority},
		prefill: ho.answerKV,
	}, nil
}

// handoffPlan is what an engine does with a request's P/D fields.
type handoffPlan struct {
	// answerKV: vLLM's prefill side; answer with kv_transfer_params.
	answerKV bool
	// firstTokenOnly: SGLang's prefill side, which ends a request after
	// its first token whatever max_tokens says.
	firstTokenOnly bool
	// remote: the prompt's KV arrives by transfer.
	remote bool
}

// handoff reads the P/D fields the way the engines do.
//
// vLLM (NixlConnector at v0.11.2): do_remote_decode asks this engine to
// prefill and hand over; it generates what max_tokens asks (a router sends
// 1) and, having stopped at that length, answers with kv_transfer_params.
// do_remote_prefill says the KV waits on a prefill instance; the connector
// pulls it only when remote_block_ids is non-empty and remote_engine_id,
// remote_host and remote_port are given (update_state_after_alloc), and
// otherwise the engine computes the prompt itself.
//
// SGLang: the bootstrap fields go to both sides at once, so the engine's
// role decides which side it plays. A request asking for a side the role
// does not play is served whole.
func (s *Server) handoff(req *Request) handoffPlan {
	role := s.opts.Role
	kvp := req.KVTransferParams
	switch {
	case kvp != nil && kvp.DoRemoteDecode:
		return handoffPlan{answerKV: role != RoleDecode}
	case kvp != nil && kvp.DoRemotePrefill:
		pullable := len(kvp.RemoteBlockIDs) > 0 && kvp.RemoteEngineID != "" && kvp.RemoteHost != "" && kvp.RemotePort != 0
		return handoffPlan{remote: role != RolePrefill && pullable}
	case req.HasBootstrap():
		return handoffPlan{firstTokenOnly: role == RolePrefill, remote: role == RoleDecode}
	}
	return handoffPlan{}
}

func (s *Server) responseID(prefix, header string) string {
	if header != "" {
		return prefix + "-" + header
	}
	return fmt.Sprintf("%s-%04x%012x", prefix, s.opts.FaultStream&0xffff, s.ids.Add(1))
}

// transferParams is what a prefill instance returns for the decode side:
// the members NixlConnectorScheduler.request_finished returns at vLLM
// v0.11.2, all of them always present.
func (s *Server) transferParams(res engine.Result) *KVTransferParams {
	ids := make([]int, len(res.Blocks))
	for i, b := range res.Blocks {
		ids[i] = int(b)
	}
	return &KVTransferParams{
		DoRemotePrefill: true,
		DoRemoteDecode:  false,
		RemoteBlockIDs:  ids,
		RemoteEngineID:  s.opts.EngineID,
		RemoteHost:      s.opts.Host,
		RemotePort:      s.opts.Port,
		TPSize:          1,
	}
}

// waitAll waits for the whole generation; false if the client went away.
func waitAll(ctx context.Context, h *engine.Handle) bool {
	have := 0
	for {
		n, done, err := h.Wait(ctx, have)
		if err != nil {
			h.Cancel()
			return false
		}
		if done {
			return true
		}
		have = n
	}
}
