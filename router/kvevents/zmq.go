package kvevents

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"

	"github.com/go-zeromq/zmq4"
)

// Message is one multipart message of the stream.
type Message struct {
	Topic string
	// Seq numbers the publisher's messages from 0; a gap means lost batches.
	Seq   uint64
	Batch Batch
}

// Frames lays out a message as vLLM sends it: topic, 8-byte big-endian
// sequence number, payload.
func Frames(topic string, seq uint64, payload []byte) [][]byte {
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	return [][]byte{[]byte(topic), s[:], payload}
}

// ParseMessage decodes the frames of one received message.
func ParseMessage(frames [][]byte) (Message, error) {
	if len(frames) != 3 {
		return Message{}, fmt.Errorf("KV event message of %d frames, want 3 (topic, seq, payload)", len(frames))
	}
	if len(frames[1]) != 8 {
		return Message{}, fmt.Errorf("sequence frame of %d bytes, want 8", len(frames[1]))
	}
	b, err := Decode(frames[2])
	if err != nil {
		return Message{}, err
	}
	return Message{Topic: string(frames[0]), Seq: binary.BigEndian.Uint64(frames[1]), Batch: b}, nil
}

// quiet keeps zmq4's connection chatter out of the simulator's output.
var quiet = zmq4.WithLogger(log.New(io.Discard, "", 0))

// Publisher is a ZeroMQ PUB socket bound to an endpoint that sends batches
// in order with consecutive sequence numbers. Publish never blocks: batches
// queue in memory and a goroutine encodes and sends them. Like any PUB
// socket it drops messages for subscribers that have not connected yet.
type Publisher struct {
	sock   zmq4.Socket
	topic  string
	layout Layout

	mu     sync.Mutex
	queue  []Batch
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

// NewPublisher binds a PUB socket to endpoint, e.g. "tcp://127.0.0.1:5557";
// "tcp://*:5557" binds every interface and port 0 (or *) a free port.
// Payloads are written in layout (LayoutArray unless given).
func NewPublisher(endpoint, topic string, layout ...Layout) (*Publisher, error) {
	sock := zmq4.NewPub(context.Background(), quiet)
	if err := sock.Listen(endpoint); err != nil {
		sock.Close()
		return nil, fmt.Errorf("KV events: %w", err)
	}
	p := &Publisher{sock: sock, topic: topic, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if len(layout) > 0 {
		p.layout = layout[0]
	}
	go p.run()
	return p, nil
}

// Endpoint is the bound address as tcp://host:port, with the real port.
func (p *Publisher) Endpoint() string {
	addr := p.sock.Addr()
	if addr == nil {
		return ""
	}
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return "tcp://" + tcp.String()
	}
	return addr.Network() + "://" + addr.String()
}

// Subscribers lists the topics connected subscribers asked for; a test can
// wait for it before publishing, since PUB drops what nobody receives.
func (p *Publisher) Subscribers() []string {
	if t, ok := p.sock.(zmq4.Topics); ok {
		return t.Topics()
	}
	return nil
}

// Publish queues a batch; after Close it is dropped.
func (p *Publisher) Publish(b Batch) {
	p.mu.Lock()
	if !p.closed {
		p.queue = append(p.queue, b)
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Publisher) run() {
	defer close(p.done)
	var seq uint64
	for {
		<-p.wake
		p.mu.Lock()
		batch, closed := p.queue, p.closed
		p.queue = nil
		p.mu.Unlock()
		for _, b := range batch {
			// A send fails only when the socket is closing.
			_ = p.sock.Send(zmq4.NewMsgFrom(Frames(p.topic, seq, EncodeLayout(b, p.layout))...))
			seq++
		}
		if closed {
			return
		}
	}
}

// Close sends what is queued, then closes the socket.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	<-p.done
	return p.sock.Close()
}

// Subscriber is a ZeroMQ SUB socket connected to one publisher.
type Subscriber struct {
	sock zmq4.Socket
}

// Subscribe connects to a publisher's endpoint and subscribes to topic
// (a prefix; "" receives every topic). It retries the connection for a few
// seconds (zmq4's default dialer) and reconnects when the publisher restarts.
func Subscribe(ctx context.Context, endpoint, topic string) (*Subscriber, error) {
	endpoint = strings.Replace(endpoint, "://*:", "://127.0.0.1:", 1)
	sock := zmq4.NewSub(ctx, quiet, zmq4.WithAutomaticReconnect(true))
	if err := sock.SetOption(zmq4.OptionSubscribe, topic); err != nil {
		sock.Close()
		return nil, fmt.Errorf("subscribe to %q: %w", topic, err)
	}
	if err := sock.Dial(endpoint); err != nil {
		sock.Close()
		return nil, fmt.Errorf("KV events: %w", err)
	}
	return &Subscriber{sock: sock}, nil
}

// Recv blocks for the next message. It fails when the socket is closed or
// its context ends, or when a message does not decode (the stream goes on:
// call Recv again).
func (s *Subscriber) Recv() (Message, error) {
	msg, err := s.sock.Recv()
	if err != nil {
		return Message{}, err
	}
	return ParseMessage(msg.Frames)
}

// Close closes the socket.
func (s *Subscriber) Close() error { return s.sock.Close() }
