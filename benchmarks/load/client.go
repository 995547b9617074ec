package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Error kinds a request can end with.
const (
	ErrConnect   = "connect"    // no connection (refused, reset before a response)
	ErrTimeout   = "timeout"    // the request's deadline passed
	ErrStreamCut = "stream_cut" // the stream ended before data: [DONE]
	ErrBadStream = "bad_stream" // a chunk that is not the JSON expected
	ErrNoTokens  = "no_tokens"  // [DONE] without any generated token
	// HTTP errors are "http_<status>", e.g. http_429, http_500.
)

// Result is what the client measured of one request.
type Result struct {
	Index  int    `json:"index"`
	Target string `json:"target"`
	// Start is when the request was sent, from the run's start.
	Start time.Duration `json:"start"`
	// TTFT is the time to the first chunk carrying generated text.
	TTFT time.Duration `json:"ttft"`
	// E2E is the time to the end of the stream.
	E2E time.Duration `json:"e2e"`
	// ITL are the gaps between chunks carrying text after the first.
	ITL []time.Duration `json:"-"`
	// Output tokens: from the usage chunk, else the text chunks counted.
	OutputTokens int `json:"output_tokens"`
	PromptTokens int `json:"prompt_tokens"`
	// Err is the error kind, "" on success; Detail says more.
	Err    string `json:"err,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Client sends requests and times their streams.
type Client struct {
	HTTP  *http.Client
	API   string
	Model string
}

// NewTransport is a transport for load: many idle connections per host so
// that concurrency never waits on reconnects, no compression, no proxy.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// chunk is the part of a streamed chunk the client reads.
type chunk struct {
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// Do sends one request to target (a base URL) and reads its stream to the
// end. start is the run's start, for Result.Start.
func (c *Client) Do(ctx context.Context, target string, r *Request, start time.Time) Result {
	res := Result{Index: r.Index, Target: target}
	payload, err := Body(c.API, c.Model, r)
	if err != nil {
		res.Err, res.Detail = ErrBadStream, err.Error()
		return res
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, target+Path(c.API), bytes.NewReader(payload))
	if err != nil {
		res.Err, res.Detail = ErrConnect, err.Error()
		return res
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	sent := time.Now()
	res.Start = sent.Sub(start)
	resp, err := c.HTTP.Do(hreq)
	if err != nil {
		res.Err, res.Detail = classify(ctx, err), err.Error()
		return res
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		res.Err = fmt.Sprintf("http_%d", resp.StatusCode)
		res.Detail = strings.TrimSpace(string(msg))
		return res
	}
	c.readStream(ctx, resp.Body, sent, &res)
	return res
}

// readStream follows server-sent events: "data: {json}" lines, one chunk
// each, ending with "data: [DONE]". A chunk with non-empty text (chat
// delta.content or completion text) is generated output: the first one
// stops the TTFT clock, later ones add inter-token gaps. A chunk may carry
// more than one token (engines that batch their stream); gaps are then per
// chunk, and the token count comes from the usage chunk when there is one.
func (c *Client) readStream(ctx context.Context, body io.Reader, sent time.Time, res *Result) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 16<<10), 4<<20)
	var last time.Time
	chunks, usage := 0, false
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue // blank separators, comments, event: lines
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			res.E2E = time.Since(sent)
			if !usage {
				res.OutputTokens = chunks
			}
			if res.OutputTokens == 0 || chunks == 0 {
				res.Err = ErrNoTokens
			}
			return
		}
		var ch chunk
		if err := json.Unmarshal(data, &ch); err != nil {
			res.Err, res.Detail = ErrBadStream, err.Error()
			return
		}
		if ch.Usage != nil {
			usage = true
			res.OutputTokens, res.PromptTokens = ch.Usage.CompletionTokens, ch.Usage.PromptTokens
		}
		if len(ch.Choices) == 0 || (ch.Choices[0].Text == "" && ch.Choices[0].Delta.Content == "") {
			continue
		}
		now := time.Now()
		if chunks == 0 {
			res.TTFT = now.Sub(sent)
		} else {
			res.ITL = append(res.ITL, now.Sub(last))
		}
		last = now
		chunks++
	}
	res.E2E = time.Since(sent)
	res.Err = ErrStreamCut
	if err := sc.Err(); err != nil {
		res.Err, res.Detail = classify(ctx, err), err.Error()
		if res.Err == ErrConnect {
			res.Err = ErrStreamCut
		}
	}
}

// classify names a transport error.
func classify(ctx context.Context, err error) string {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return ErrConnect
}
