package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// chunker builds server-sent events in vLLM's chunk format by appending to
// a prefix encoded once per request: one event per generated token, with
// finish_reason on the last one.
type chunker struct {
	kind Kind
	head []byte // `data: {"id":…,"object":…,"created":…,"model":…,"choices":`
}

func (o *response) newChunker() *chunker {
	id, _ := json.Marshal(o.id)
	model, _ := json.Marshal(o.s.opts.Model)
	head := append([]byte(`data: {"id":`), id...)
	head = append(head, `,"object":"`...)
	head = append(head, o.object(true)...)
	head = append(head, `","created":`...)
	head = strconv.AppendInt(head, o.created, 10)
	head = append(head, `,"model":`...)
	head = append(head, model...)
	head = append(head, `,"choices":`...)
	return &chunker{kind: o.kind, head: head}
}

// role is the first chat event: the assistant role with empty content.
func (c *chunker) role(b []byte) []byte {
	b = append(b, c.head...)
	return append(b, `[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
}

// token is one generated word; the output vocabulary needs no JSON escaping.
// finish is the last word's finish reason, "" for the others.
func (c *chunker) token(b []byte, word, finish string) []byte {
	b = append(b, c.head...)
	if c.kind == Chat {
		b = append(b, `[{"index":0,"delta":{"content":"`...)
		b = append(b, word...)
		b = append(b, `"},"logprobs":null,"finish_reason":`...)
	} else {
		b = append(b, `[{"index":0,"text":"`...)
		b = append(b, word...)
		b = append(b, `","logprobs":null,"finish_reason":`...)
	}
	if finish != "" {
		b = append(b, '"')
		b = append(b, finish...)
		b = append(b, '"')
	} else {
		b = append(b, `null`...)
	}
	return append(b, `,"stop_reason":null}]}`+"\n\n"...)
}

func (c *chunker) usage(b []byte, u usage) []byte {
	b = append(b, c.head...)
	b = append(b, `[],"usage":`...)
	body, _ := json.Marshal(u)
	b = append(b, body...)
	return append(b, "}\n\n"...)
}

// stream sends tokens as they are generated. Nothing is written before the
// first token, so a failure until then is still a clean JSON error.
func (o *response) stream(w http.ResponseWriter, ctx context.Context, includeUsage bool) {
	flusher, _ := w.(http.Flusher)
	c := o.newChunker()
	seed := o.h.OutputSeed()
	buf := make([]byte, 0, 1024)
	sent := 0
	for {
		n, done, err := o.h.Wait(ctx, sent)
		if err != nil {
			o.h.Cancel() // the client went away
			return
		}
		res := engine.Result{}
		if done {
			res = o.h.Result()
		}
		if n > sent {
			if sent == 0 {
				h := w.Header()
				h.Set("Content-Type", "text/event-stream")
				h.Set("Cache-Control", "no-cache")
				if o.kind == Chat {
					buf = c.role(buf)
				}
			}
			for i := sent; i < n; i++ {
				finish := ""
				if done && res.Err == nil && i == n-1 {
					finish = finishReason(res)
				}
				buf = c.token(buf, engine.OutputWord(seed, i), finish)
			}
			sent = n
		}
		if done {
			o.finish(w, c, buf, sent, res, includeUsage)
			return
		}
		if _, err := w.Write(buf); err != nil {
			o.h.Cancel()
			return
		}
		buf = buf[:0]
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// finish writes the last events: the usage chunk if asked and [DONE]. An
// engine that stopped before the first token gets a JSON error instead; one
// that stopped mid-stream ends the stream without [DONE].
func (o *response) finish(w http.ResponseWriter, c *chunker, buf []byte, sent int, res engine.Result, includeUsage bool) {
	if res.Err != nil && sent == 0 {
		engineFailed(w, res.Err)
		return
	}
	if res.Err == nil {
		if includeUsage {
			buf = c.usage(buf, usageOf(res))
		}
		buf = append(buf, "data: [DONE]\n\n"...)
	}
	_, _ = w.Write(buf)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
