package router

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/flow"
	"github.com/tandem-serving/tandem/router/request"
	"github.com/tandem-serving/tandem/router/schedule"
	"github.com/tandem-serving/tandem/router/sse"
	"github.com/tandem-serving/tandem/router/tenant"
	"github.com/tandem-serving/tandem/router/tokenize"
)

const (
	chatKind       = request.Chat
	completionKind = request.Completion
)

// maxPooledBuffer keeps huge one-off bodies from being pinned by the pool.
const maxPooledBuffer = 1 << 20

// call is one completion request's working state, pooled so the request
// path allocates little.
type call struct {
	kind   request.Kind
	in     *http.Request
	path   string
	start  time.Time
	body   []byte
	req    request.Request
	hashes []uint64
	// engineHashes are the router's chain over the prompt's token ids and
	// tokKeys the token cache's keys of the prompt (exact mode).
	engineHashes []uint64
	tokKeys      []tokenize.Key
	sreq         schedule.Request
	scratch      *schedule.Scratch
	order        []schedule.Candidate
	pool         *endpoint.Pool
	model        string // metric label: a served model, or ""
	ticket       tenant.Ticket
	slot         flow.Ticket // flow control's; Placed once an endpoint counts the request
	tenant       string
	// who is the resolved identity and priority the resolved priority
	// (handler.go: identify, admit); nothing reads the client's own.
	who      tenant.Identity
	priority int
	id       string

	// Prefill/decode: the second scratch, rewritten bodies, the spliced
	// member and the prefill answer.
	pscratch *schedule.Scratch
	out      []byte
	out2     []byte
	kvMember []byte
	presp    []byte
	// open counts the bodies handed to the transport and not yet
	// closed; the call waits for them before its buffers are reused.
	open    sync.WaitGroup
	relay   *sse.Relay
	copyBuf []byte

	status    int
	firstByte time.Duration
	streamed  bool
	noPD      bool
	// prefilledBy names the prefill endpoint of a disaggregated request.
	prefilledBy string
}

func (rt *Router) newCall(kind request.Kind, r *http.Request) *call {
	c, _ := rt.calls.Get().(*call)
	if c == nil {
		c = &call{scratch: schedule.NewScratch(rt.seeds.Add(0x9e3779b97f4a7c15)), relay: sse.NewRelay(nil, nil)}
	}
	c.kind, c.in, c.path, c.start = kind, r, r.URL.Path, time.Now()
	return c
}

func (rt *Router) putCall(c *call) {
	c.open.Wait()
	c.ticket.Release()
	if cap(c.body) > maxPooledBuffer {
		c.body = nil
	}
	if cap(c.out) > maxPooledBuffer {
		c.out = nil
	}
	if cap(c.out2) > maxPooledBuffer {
		c.out2 = nil
	}
	if cap(c.presp) > maxPooledBuffer {
		c.presp = nil
	}
	c.kind, c.in, c.path, c.body, c.hashes, c.engineHashes = 0, nil, "", c.body[:0], c.hashes[:0], c.engineHashes[:0]
	c.tokKeys, c.slot = c.tokKeys[:0], flow.Ticket{}
	c.sreq, c.order, c.pool, c.model, c.ticket, c.tenant, c.id = schedule.Request{}, nil, nil, "", tenant.Ticket{}, "", ""
	c.out, c.out2, c.kvMember, c.presp = c.out[:0], c.out2[:0], c.kvMember[:0], c.presp[:0]
	c.status, c.firstByte, c.streamed, c.noPD, c.prefilledBy = 0, 0, false, false, ""
	c.who, c.priority = tenant.Identity{}, 0
	rt.calls.Put(c)
}

// readBody reads the request body into the call's buffer, refusing bodies
// over limit with 413.
func (c *call) readBody(r *http.Request, limit int64) *apiError {
	if r.ContentLength > limit {
		return tooLarge("the request body exceeds " + strconv.FormatInt(limit, 10) + " bytes")
	}
	want := int(r.ContentLength)
	if want < 0 {
		want = 4096
	}
	buf := c.body[:0]
	if cap(buf) < want+1 {
		buf = make([]byte, 0, want+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			c.body = buf
			return tooLarge("the request body exceeds " + strconv.FormatInt(limit, 10) + " bytes")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			c.body = buf
			return badRequest("", "reading the request body: "+err.Error())
		}
	}
	c.body = buf
	return nil
}

// bodyReader is a forwarded request body that tells its call when the
// transport is done with it: RoundTrip may return before the transport has
// finished reading (or closed) the body, and the bytes belong to a pooled
// buffer.
type bodyReader struct {
	bytes.Reader
	c      *call
	closed atomic.Bool
}

func (b *bodyReader) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		b.c.open.Done()
	}
	return nil
}

// bodyFor returns a reader over data for one outbound request. Readers
// are not reused: a transport may close one late, or twice, and that
// must never touch a later request's count.
func (c *call) bodyFor(data []byte) *bodyReader {
	b := &bodyReader{c: c}
	b.Reset(data)
	c.open.Add(1)
	return b
}

// dispatch tracks one request sent to an endpoint in the endpoint's
// counters: open, pending until its first byte, and its queued tokens.
//
// A whole (non-streamed) answer's first byte comes only when generation is
// done, long after its prefill; holding its tokens as queued that long
// would make busy endpoints look far more loaded than they are. So a
// whole request's queued tokens are released when its predicted TTFT has
// passed (a timer), or at its answer if that comes first.
type dispatch struct {
	e       *endpoint.Endpoint
	queued  int64
	context int64
	pending atomic.Bool
	probe   bool
	sent    time.Time
	work    float64 // tokens of prefill ahead of and including this request
	timer   *time.Timer
}

func startDispatch(e *endpoint.Endpoint, k cost, probe bool) *dispatch {
	d := &dispatch{e: e, queued: int64(k.uncached), context: int64(k.context), probe: probe, sent: time.Now(), work: k.queued + k.uncached}
	d.pending.Store(true)
	e.InFlight.Add(1)
	e.ContextTokens.Add(d.context)
	e.Pending.Add(1)
	e.QueuedTokens.Add(d.queued)
	e.Rate.ObserveTokens(k.uncached)
	if e.Exact != nil && k.uncached >= minWorkTokens {
		e.Exact.Worked(d.sent) // KV events must follow (kvindex: Silent)
	}
	if k.releaseAfter > 0 {
		d.timer = time.AfterFunc(k.releaseAfter, func() { d.prefilled() })
	}
	return d
}

// minWorkTokens is uncached work sure to fill at least one KV block.
const minWorkTokens = 64

// maxRelease bounds the predicted prefill time of a whole request.
const maxRelease = time.Minute

// releaseAfter is when a whole request's prefill is presumed done.
func releaseAfter(predictedTTFT float64) time.Duration {
	return min(max(time.Duration(predictedTTFT*float64(time.Second)), time.Millisecond), maxRelease)
}

// prefilled takes the request out of the endpoint's queue, once.
func (d *dispatch) prefilled() bool {
	if !d.pending.CompareAndSwap(true, false) {
		return false
	}
	d.e.Pending.Add(-1)
	d.e.QueuedTokens.Add(-d.queued)
	return true
}

// first marks the first byte; learn says whether its TTFT measures a
// prefill (and so teaches the endpoint's rate).
func (d *dispatch) first(learn bool) {
	if d.timer != nil {
		d.timer.Stop()
	}
	if d.prefilled() && learn {
		d.e.Rate.Observe(d.work, time.Since(d.sent).Seconds())
	}
}

// end closes the dispatch and reports the outcome to the breaker.
func (d *dispatch) end(ok bool) {
	d.first(false)
	d.e.InFlight.Add(-1)
	d.e.ContextTokens.Add(-d.context)
	if ok {
		d.e.Breaker.Success(d.probe)
	} else {
		d.e.Breaker.Failure(d.probe)
	}
}

// release ends a dispatch whose outcome says nothing about the endpoint's
// health (the client went away, the engine said 429).
func (d *dispatch) release() {
	d.first(false)
	d.e.InFlight.Add(-1)
	d.e.ContextTokens.Add(-d.context)
	d.e.Breaker.Release(d.probe)
}

// writePriority replaces the body's priority member with p.
func (c *call) writePriority(p int) *apiError {
	c.body = c.req.AppendBody(make([]byte, 0, len(c.body)+24), request.FieldSet(0).Set(request.FieldPriority),
		strconv.AppendInt([]byte(`"priority":`), int64(p), 10))
	if err := request.Parse(c.kind, c.body, &c.req); err != nil {
		return badRequest(err.Param, err.Msg) // cannot happen: the members were valid
	}
	return nil
}
