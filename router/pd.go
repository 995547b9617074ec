package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/request"
	"github.com/tandem-serving/tandem/router/schedule"
)

// Prefill/decode hand-off.
//
// The decode endpoint is chosen first, as for any request. If the part of
// the prompt it does not hold is at least PD.ThresholdTokens, a prefill
// endpoint is chosen with the same plugins plus a preference for the decode
// endpoint's unit, and the two are joined the way the engine expects.
//
// vLLM, NIXL connector (vllm/distributed/kv_transfer/kv_connector/v1/
// nixl_connector.py at v0.11.2; the fields are the same on main from
// 2025-10-16 until PR #29665 of 2025-12-05 added remote_request_id; the
// request shape is the maintainers' proxy,
// tests/v1/kv_connector/nixl_integration/toy_proxy_server.py, same
// version):
//
//  1. The prefill endpoint gets the client's request with stream false,
//     stream_options and min_tokens removed, max_tokens 1 (and
//     max_completion_tokens 1 when the client set it) and
//     kv_transfer_params {"do_remote_decode": true, "do_remote_prefill":
//     false, "remote_engine_id": null, "remote_block_ids": null,
//     "remote_host": null, "remote_port": null}. The connector hands the
//     blocks over only when the request ends by its length cap
//     (request_finished checks FINISHED_LENGTH_CAPPED), hence max_tokens 1.
//     The toy proxy leaves min_tokens alone; the router drops it: a
//     client's min_tokens above 1 would make vLLM refuse the copy with 400
//     (SamplingParams._verify_args, vllm/sampling_params.py: "min_tokens
//     must be less than or equal to max_tokens=1"; the same check on main
//     from 2025-10 (a332b8457) through 2025-11-21 (b34129bf8), the window
//     holding v0.11.2, and later), and every such request would lose its
//     hand-off. The prefill's one token is discarded anyway; the decode
//     request keeps the client's min_tokens.
//  2. Its answer carries, top level, kv_transfer_params
//     {"do_remote_prefill": true, "do_remote_decode": false,
//     "remote_block_ids": [...], "remote_engine_id": ..., "remote_host":
//     its NIXL side-channel host, "remote_port": its side-channel port,
//     "tp_size": its tensor-parallel size}. The router copies that value
//     byte for byte, whatever members it has (a later vLLM's
//     remote_request_id passes through too), into the decode request,
//     which is otherwise the client's. The decode endpoint pulls the
//     blocks and generates.
//  3. Both halves carry the same X-Request-Id (the call's id). At v0.11.2
//     the decode side tells the prefill side which blocks it may free by
//     its own request id (cmpl-<X-Request-Id>-0, chatcmpl-<X-Request-Id>),
//     so the ids must agree or the prefill keeps the blocks until
//     VLLM_NIXL_ABORT_REQUEST_TIMEOUT.
//
// SGLang (python/sglang/srt/disaggregation: the bootstrap server on every
// prefill, --disaggregation-bootstrap-port, default 8998; the request
// fields in entrypoints/openai/protocol.py; the mini load balancer,
// sgl-router/py_src/sglang_router/mini_lb.py, formerly
// disaggregation/mini_lb.py; read in stored copies of the v0.5 series, not
// pinned to the v0.5.5 tag): both endpoints get
// the client's request with bootstrap_host (the prefill endpoint's
// address, an IPv6 one in brackets), bootstrap_port (its bootstrap port)
// and bootstrap_room (a random integer in [0, 2^63), new for each
// hand-off), at the same time; the decode endpoint's answer is relayed.
//
// kv_transfer_params and bootstrap_* come only from the router: whatever a
// client put there is dropped from every body sent to an engine, P/D or not
// (engineBody), so a client can neither point a decode engine at a host of
// its choosing nor pin a prefill engine's blocks.
//
// Bodies are rewritten by splicing members (request.AppendBody), never by
// re-encoding. When no prefill endpoint is healthy, or prefill fails, the
// configured policy decides: "aggregated" lets the decode endpoint prefill
// itself, "fail" answers 503. Either way a metric and a log line say so.

var (
	// untrusted are the members only the router may set.
	untrusted = request.FieldSet(0).Set(request.FieldKVTransferParams).
			Set(request.FieldBootstrapHost).Set(request.FieldBootstrapPort).Set(request.FieldBootstrapRoom)
	// Members dropped from the prefill copy (and, but for min_tokens,
	// replaced).
	prefillDrop = untrusted.Set(request.FieldStream).Set(request.FieldStreamOptions).
			Set(request.FieldMaxTokens).Set(request.FieldMaxCompletionTokens).Set(request.FieldMinTokens)

	prefillStream    = []byte(`"stream":false`)
	prefillMax       = []byte(`"max_tokens":1`)
	prefillMaxCompl  = []byte(`"max_completion_tokens":1`)
	prefillKVRequest = []byte(`"kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,` +
		`"remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null}`)
	kvKey = []byte(`"kv_transfer_params":`)
)

// engineBody is the client's request as an engine may see it: unchanged,
// unless it carries members only the router may set. Such a request (no
// honest client sends one) gets a buffer of its own per attempt: a
// transport may still be writing the previous attempt's body.
func (c *call) engineBody() []byte {
	r := &c.req
	if r.Has(request.FieldKVTransferParams) || r.Has(request.FieldBootstrapHost) ||
		r.Has(request.FieldBootstrapPort) || r.Has(request.FieldBootstrapRoom) {
		return r.AppendBody(nil, untrusted)
	}
	return r.Body
}

// errPrefillTimeout is why a prefill that did not answer in time ended.
var errPrefillTimeout = errors.New("no prefill answer within timeouts.firstByte")

// maxPrefillAnswer bounds a prefill endpoint's answer.
const maxPrefillAnswer = 4 << 20

// prefillTries is how many prefill endpoints are tried before falling back.
const prefillTries = 2

// disaggregated serves the request on decode candidate dec with a prefill
// hand-off.
func (rt *Router) disaggregated(ctx context.Context, w http.ResponseWriter, c *call, dec *schedule.Candidate, last bool) result {
	preq := c.sreq
	preq.PreferGroup, preq.PreferUnit = dec.E.Group, dec.E.Unit
	if c.pscratch == nil {
		c.pscratch = schedule.NewScratch(rt.seeds.Add(0x9e3779b97f4a7c15))
	}
	pres := rt.prefill.Schedule(&preq, c.pool.Prefill, time.Now(), c.pscratch)
	if len(pres.Order) == 0 {
		return rt.noPrefill(ctx, w, c, dec, last, "no-prefill", errors.New("no healthy prefill endpoint"))
	}
	if dec.E.Kind == endpoint.SGLang {
		return rt.bootstrap(ctx, w, c, dec, &pres.Order[0], last)
	}
	var err error
	for i := 0; i < min(prefillTries, len(pres.Order)); i++ {
		var kvp []byte
		if kvp, err = rt.prefillVLLM(ctx, c, &pres.Order[i]); err == nil {
			rt.metrics.pd.WithLabelValues(c.model, "disaggregated").Inc()
			c.prefilledBy = pres.Order[i].E.Name
			kv := append(append(c.kvMember[:0], kvKey...), kvp...)
			c.kvMember = kv
			body := c.req.AppendBody(c.out2[:0], untrusted, kv)
			c.out2 = body
			// The decode endpoint computes no prompt: nothing to queue,
			// and its first token does not measure a prefill.
			return rt.attempt(ctx, w, c, dec.E, body, cost{}, last)
		}
		if ctx.Err() != nil {
			return result{cause: "canceled", err: err}
		}
		rt.log.V(1).Info("Prefill failed", "request", c.id, "endpoint", pres.Order[i].E.Name, "err", err)
	}
	return rt.noPrefill(ctx, w, c, dec, last, "prefill-failed", err)
}

// noPrefill applies the configured policy when prefill is impossible.
func (rt *Router) noPrefill(ctx context.Context, w http.ResponseWriter, c *call, dec *schedule.Candidate, last bool, why string, err error) result {
	if rt.cfg.PD.NoPrefill == "fail" {
		rt.metrics.pd.WithLabelValues(c.model, why+"-refused").Inc()
		rt.log.Info("No prefill possible; failing the request", "request", c.id, "model", c.model, "reason", why, "err", err)
		e := unavailable("no-prefill", "no prefill endpoint could serve model `"+c.model+"`: "+err.Error())
		writeError(w, e)
		c.status = e.Status
		rt.metrics.refused.WithLabelValues(e.Reason).Inc()
		return result{done: true}
	}
	rt.metrics.pd.WithLabelValues(c.model, why+"-aggregated").Inc()
	rt.log.V(1).Info("No prefill possible; the decode endpoint prefills", "request", c.id, "model", c.model, "reason", why, "err", err)
	c.noPD = true
	return rt.attempt(ctx, w, c, dec.E, c.engineBody(), rt.costOf(c, dec), last)
}

// prefillVLLM runs the prefill half of the NIXL hand-off and returns the
// kv_transfer_params of the answer (valid until the call ends).
func (rt *Router) prefillVLLM(ctx context.Context, c *call, p *schedule.Candidate) ([]byte, error) {
	extra := [][]byte{prefillStream, prefillMax, prefillKVRequest}
	if c.req.Has(request.FieldMaxCompletionTokens) {
		extra = append(extra, prefillMaxCompl)
	}
	body := c.req.AppendBody(c.out[:0], prefillDrop, extra...)
	c.out = body
	answer, err := rt.sideRequest(ctx, c, p, body)
	if err != nil {
		return nil, err
	}
	kvp := request.TopLevel(answer, "kv_transfer_params")
	if len(kvp) == 0 || bytes.Equal(kvp, []byte("null")) {
		return nil, fmt.Errorf("%s: the prefill answer has no kv_transfer_params (is the NIXL connector configured?)", p.E.Name)
	}
	return kvp, nil
}

// sideRequest sends body to prefill candidate p and reads its whole
// answer. The prefill's time to answer teaches p's prefill rate.
func (rt *Router) sideRequest(ctx context.Context, c *call, p *schedule.Candidate, body []byte) ([]byte, error) {
	probe, ok := p.E.Breaker.Acquire()
	if !ok {
		return nil, fmt.Errorf("%s: %w", p.E.Name, errBreakerOpen)
	}
	d := startDispatch(p.E, cost{uncached: p.UncachedTokens, queued: p.QueuedTokens}, probe)
	c.slot.Placed()
	p.E.Index.Insert(c.hashes)
	// A prefill's whole answer is its first byte: timeouts.firstByte bounds
	// it as it bounds a stream's first event. Past it the endpoint failed
	// (rt.failed sees the request's own ctx still live); the transport's
	// error carries the cause.
	pctx := ctx
	if fb := rt.cfg.Timeouts.FirstByte.Duration; fb > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeoutCause(ctx, fb, errPrefillTimeout)
		defer cancel()
	}
	resp, err := rt.transport.RoundTrip(rt.outbound(pctx, c, p.E, body))
	if err != nil {
		rt.failed(ctx, d, "prefill", err)
		return nil, fmt.Errorf("%s: %w", p.E.Name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	buf := bytes.NewBuffer(c.presp[:0])
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxPrefillAnswer))
	c.presp = buf.Bytes()
	switch {
	case err != nil:
		rt.failed(ctx, d, "prefill", err)
		return nil, fmt.Errorf("%s: reading the prefill answer: %w", p.E.Name, err)
	case resp.StatusCode != http.StatusOK:
		d.end(resp.StatusCode < 500)
		return nil, fmt.Errorf("%s: prefill answered %s: %s", p.E.Name, resp.Status, bytes.TrimSpace(c.presp[:min(len(c.presp), 200)]))
	}
	d.first(true)
	d.end(true)
	return c.presp, nil
}

// appendBootstrap appends SGLang's three bootstrap members. The decode
// engine dials host:port, so an IPv6 host is bracketed (as SGLang's own
// load balancer does). A room is any integer in [0, 2^63): rand.Int64's
// range, from a generator seeded per process, so router replicas draw
// independent rooms.
func appendBootstrap(dst []byte, host string, port int, room int64) []byte {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	dst = append(dst, `"bootstrap_host":`...)
	dst = strconv.AppendQuote(dst, host)
	dst = append(dst, `,"bootstrap_port":`...)
	dst = strconv.AppendInt(dst, int64(port), 10)
	dst = append(dst, `,"bootstrap_room":`...)
	return strconv.AppendInt(dst, room, 10)
}

// bootstrap runs SGLang's hand-off: prefill and decode at once, joined by
// the bootstrap room.
func (rt *Router) bootstrap(ctx context.Context, w http.ResponseWriter, c *call, dec, p *schedule.Candidate, last bool) result {
	extra := appendBootstrap(c.kvMember[:0], p.E.Host(), p.E.BootstrapPort, rand.Int64())
	c.kvMember = extra
	body := c.req.AppendBody(c.out[:0], untrusted, extra)
	c.out = body
	dctx, dcancel := context.WithCancelCause(ctx)
	defer dcancel(nil)
	pctx, pcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := rt.sideRequest(pctx, c, p, body)
		if err != nil && pctx.Err() == nil {
			dcancel(err) // decode would wait for KV that never comes
		}
		done <- err
	}()
	res := rt.attempt(dctx, w, c, dec.E, body, cost{}, last)
	if res.done {
		// The prefill half finishes on its own (the decode half needed
		// its KV); wait for it: it shares this call's buffers.
		perr := <-done
		pcancel()
		if perr != nil {
			rt.log.V(1).Info("SGLang prefill answered with an error after decode", "request", c.id, "err", perr)
		}
		rt.metrics.pd.WithLabelValues(c.model, "disaggregated").Inc()
		return res
	}
	pcancel()
	perr := <-done
	if perr != nil && ctx.Err() == nil {
		rt.log.V(1).Info("SGLang prefill failed", "request", c.id, "endpoint", p.E.Name, "err", perr)
		return rt.noPrefill(ctx, w, c, dec, last, "prefill-failed", perr)
	}
	return res
}
