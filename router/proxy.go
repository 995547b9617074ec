package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/schedule"
	"github.com/tandem-serving/tandem/router/sse"
)

// result is the outcome of one attempt.
type result struct {
	// done: the client has its answer (a success, or an error relayed or
	// written); stop trying.
	done bool
	// cause labels a failed attempt in the retry metric.
	cause string
	err   error
}

var errBreakerOpen = errors.New("circuit breaker open")

// proxy tries the ordered candidates until one answers. Any failure before
// the first byte reaches the client moves on to the next candidate.
func (rt *Router) proxy(ctx context.Context, w http.ResponseWriter, r *http.Request, c *call) {
	attempts := min(rt.cfg.Retry.MaxAttempts, len(c.order))
	var last result
	for i := 0; i < attempts; i++ {
		last = rt.tryCandidate(ctx, w, c, &c.order[i], i == attempts-1)
		if last.done {
			return
		}
		if r.Context().Err() != nil {
			c.status = 499 // the client went away before an answer
			return
		}
		if ctx.Err() != nil {
			break // the request timeout passed
		}
		if i < attempts-1 {
			rt.metrics.retries.WithLabelValues(c.model, last.cause).Inc()
			rt.log.V(2).Info("Retrying on the next endpoint", "request", c.id, "endpoint", c.order[i].E.Name, "cause", last.cause, "err", last.err)
		}
	}
	msg := "no endpoint could serve the request"
	if last.err != nil {
		msg += ": " + last.err.Error()
	}
	err := unavailable("no-endpoint", msg)
	if ctx.Err() != nil {
		err = &apiError{Status: http.StatusGatewayTimeout, Type: "TimeoutError", Message: "the request timed out", Reason: "timeout"}
	}
	writeError(w, err)
	c.status = err.Status
	rt.metrics.refused.WithLabelValues(err.Reason).Inc()
}

// tryCandidate sends the request to one candidate, with a prefill hand-off
// first when the model is disaggregated and the prompt is long enough.
func (rt *Router) tryCandidate(ctx context.Context, w http.ResponseWriter, c *call, cand *schedule.Candidate, last bool) result {
	e := cand.E
	if c.pool.Disaggregated && e.Role == endpoint.RoleDecode {
		if !c.noPD && cand.UncachedTokens >= rt.cfg.PD.ThresholdTokens {
			return rt.disaggregated(ctx, w, c, cand, last)
		}
		rt.metrics.pd.WithLabelValues(c.model, "local-prefill").Inc()
	}
	return rt.attempt(ctx, w, c, e, c.engineBody(), rt.costOf(c, cand), last)
}

// cost is what an attempt adds to the endpoint's queue and teaches its rate.
type cost struct {
	uncached, queued float64
	// context is the prompt's tokens and max_tokens: the KV the request
	// will hold there.
	context float64
	learn   bool
	// releaseAfter, for whole answers, is when the prompt is presumed
	// prefilled (see dispatch).
	releaseAfter time.Duration
}

// costOf is the cost of serving c whole (prefill included) on cand.
func (rt *Router) costOf(c *call, cand *schedule.Candidate) cost {
	k := cost{uncached: cand.UncachedTokens, queued: cand.QueuedTokens, learn: true,
		context: cand.CachedTokens + cand.UncachedTokens + float64(c.req.MaxTokens)}
	if !c.req.Stream {
		k.releaseAfter = releaseAfter(cand.TTFT)
	}
	return k
}

// attempt sends body to e and relays the answer. Until the first byte is
// written to the client a failure returns done=false; after it, a broken
// stream ends with an error event and done=true.
func (rt *Router) attempt(ctx context.Context, w http.ResponseWriter, c *call, e *endpoint.Endpoint, body []byte, k cost, last bool) result {
	probe, ok := e.Breaker.Acquire()
	if !ok {
		return result{cause: "breaker", err: fmt.Errorf("%s: %w", e.Name, errBreakerOpen)}
	}
	d := startDispatch(e, k, probe)
	c.slot.Placed()
	e.Index.Insert(c.hashes)
	// A stream's first event is bounded by the first-byte timeout and
	// each later silence by the stream idle timeout; a whole answer
	// arrives only when generation is done, so only the request timeout
	// bounds it.
	actx := ctx
	var wd *sse.Watchdog
	if c.req.Stream {
		actx, wd = sse.NewWatchdog(ctx, rt.cfg.Timeouts.FirstByte.Duration, rt.cfg.Timeouts.StreamIdle.Duration)
		defer wd.Stop()
	}
	resp, err := rt.transport.RoundTrip(rt.outbound(actx, c, e, body))
	if err != nil {
		return rt.failed(ctx, d, "connect", fmt.Errorf("%s: %w", e.Name, err))
	}
	defer func() { _ = resp.Body.Close() }()
	if (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests) && !last {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		err := fmt.Errorf("%s answered %s", e.Name, resp.Status)
		if resp.StatusCode == http.StatusTooManyRequests {
			d.release()
			return result{cause: "status", err: err}
		}
		d.end(false)
		return result{cause: "status", err: err}
	}
	if c.req.Stream && resp.StatusCode/100 == 2 {
		return rt.relayStream(ctx, actx, w, c, d, resp, wd, k.learn)
	}
	return rt.relayWhole(w, c, d, resp)
}

// failed ends a dispatch that produced nothing.
func (rt *Router) failed(ctx context.Context, d *dispatch, cause string, err error) result {
	if ctx.Err() != nil {
		d.release() // the client left or the request timed out: not the engine's fault
		return result{cause: "canceled", err: err}
	}
	d.end(false)
	return result{cause: cause, err: err}
}

// outbound builds the request to the engine.
func (rt *Router) outbound(ctx context.Context, c *call, e *endpoint.Endpoint, body []byte) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.BaseURL+c.path, nil)
	req.Body = c.bodyFor(body)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", c.id)
	rt.forwardHeaders(req, c.in)
	return req
}

// forwardHeaders copies the configured client headers to an engine request.
func (rt *Router) forwardHeaders(dst *http.Request, src *http.Request) {
	for _, h := range rt.forward {
		if v := src.Header.Get(h); v != "" && !strings.EqualFold(h, "X-Request-Id") {
			dst.Header.Set(h, v)
		}
	}
}

var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Proxy-Authenticate": true,
}

func copyHeaders(dst, src http.Header) {
	for k, vv := range src {
		if !hopByHop[k] {
			dst[k] = vv
		}
	}
}

// relayWhole passes a whole (non-streamed, or error) answer through.
func (rt *Router) relayWhole(w http.ResponseWriter, c *call, d *dispatch, resp *http.Response) result {
	d.first(false)
	copyHeaders(w.Header(), resp.Header)
	routeHeaders(w.Header(), c, d)
	w.WriteHeader(resp.StatusCode)
	c.status = resp.StatusCode
	if cap(c.copyBuf) == 0 {
		c.copyBuf = make([]byte, 32<<10)
	}
	_, err := io.CopyBuffer(w, onlyReader{resp.Body}, c.copyBuf[:cap(c.copyBuf)])
	switch {
	case err != nil:
		// Content-Length promised more: net/http closes the connection
		// and the client sees a truncated answer, never a wrong one.
		d.end(false)
	case resp.StatusCode >= 500:
		d.end(false)
	default:
		d.end(true)
	}
	return result{done: true}
}

// Response headers that say where a request went, for operators and the
// demo: the endpoint that answered and, for a disaggregated request, the
// one that prefilled it.
const (
	headerEndpoint = "X-Tandem-Endpoint"
	headerPrefill  = "X-Tandem-Prefill"
)

func routeHeaders(h http.Header, c *call, d *dispatch) {
	h.Set(headerEndpoint, d.e.Name)
	if c.prefilledBy != "" {
		h.Set(headerPrefill, c.prefilledBy)
	}
}

// onlyReader hides WriterTo/ReaderFrom so CopyBuffer uses our buffer.
type onlyReader struct{ io.Reader }

// relayStream passes server-sent events through as they arrive. The answer
// is committed only once the first whole event is in hand, so an engine
// that fails before producing anything is retried elsewhere. actx is the
// engine request's context, which wd cancels when the engine falls silent.
func (rt *Router) relayStream(ctx, actx context.Context, w http.ResponseWriter, c *call, d *dispatch, resp *http.Response, wd *sse.Watchdog, learn bool) result {
	c.relay.Reset(resp.Body)
	chunk, err := c.relay.Next()
	wd.Busy()
	if len(chunk) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("the stream ended before its first event")
		}
		return rt.failed(ctx, d, "first-byte", fmt.Errorf("%s: %w", d.e.Name, err))
	}
	d.first(learn)
	if learn {
		rt.teach(d)
	}
	c.firstByte, c.streamed, c.status = time.Since(c.start), true, resp.StatusCode
	copyHeaders(w.Header(), resp.Header)
	routeHeaders(w.Header(), c, d)
	w.WriteHeader(resp.StatusCode)
	flusher, _ := w.(http.Flusher)
	for {
		if _, werr := w.Write(chunk); werr != nil {
			d.release() // the client went away
			return result{done: true}
		}
		if flusher != nil {
			flusher.Flush()
		}
		if err != nil {
			break
		}
		wd.Wait()
		chunk, err = c.relay.Next()
		wd.Busy()
		if len(chunk) == 0 && err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		d.end(true)
		return result{done: true}
	}
	if c.in.Context().Err() != nil {
		d.release() // the client went away
		return result{done: true}
	}
	rt.endStream(w, flusher, c, d, err, context.Cause(actx))
	return result{done: true}
}

// endStream closes a stream the engine side broke off after its first
// event with an OpenAI error event, which OpenAI clients raise as an
// error: the engine failed (502), fell silent for timeouts.streamIdle
// (504), or the request ran out of timeouts.request (504, not the
// engine's fault). cause is the engine request context's.
//
// vLLM ends a stream that fails mid-way the same way, with
// data: {"error":{"message","type","param","code"}} (serving_chat.py's
// chat_completion_stream_generator, create_streaming_error_response in
// serving_engine.py; read in stored copies of vLLM's v0.11 series, not
// pinned to a tag), and then data: [DONE]. The router sends no [DONE]
// after its error: openai-python (src/openai/_streaming.py, v3.3.1) raises at the error event and never reads further, and a client
// that knows no error events takes [DONE] for a complete answer, while a
// stream without it reads as cut off.
func (rt *Router) endStream(w http.ResponseWriter, flusher http.Flusher, c *call, d *dispatch, err, cause error) {
	status, typ, msg := http.StatusBadGateway, "BadGatewayError", "the engine stopped mid-stream: "+err.Error()
	switch {
	case errors.Is(cause, sse.ErrIdleTimeout):
		d.end(false)
		status, typ = http.StatusGatewayTimeout, "TimeoutError"
		msg = "the engine sent no event for " + rt.cfg.Timeouts.StreamIdle.String() + " (timeouts.streamIdle)"
	case errors.Is(cause, context.DeadlineExceeded):
		d.release()
		status, typ = http.StatusGatewayTimeout, "TimeoutError"
		msg = "the request exceeded " + rt.cfg.Timeouts.Request.String() + " (timeouts.request)"
	case cause != nil:
		d.release() // canceled from the router's side (an SGLang prefill failed)
		msg = "the stream was cut: " + cause.Error()
	default:
		d.end(false)
	}
	rt.metrics.streamErrs.WithLabelValues(c.model).Inc()
	rt.log.V(1).Info("Stream broken after its first event", "request", c.id, "endpoint", d.e.Name, "err", err, "cause", cause)
	ev := make([]byte, 0, 256)
	if c.relay.Split() {
		ev = append(ev, "\n\n"...)
	}
	ev = sse.AppendError(ev, status, typ, msg)
	_, _ = w.Write(ev)
	if flusher != nil {
		flusher.Flush()
	}
	c.status = status
}
