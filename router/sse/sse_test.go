package sse

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// chunks is a reader that returns the given pieces one Read at a time,
// then err.
type chunks struct {
	pieces []string
	err    error
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.pieces) == 0 {
		return 0, c.err
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	if c.pieces[0] == "" {
		c.pieces = c.pieces[1:]
	}
	return n, nil
}

var errCut = errors.New("connection reset")

func drain(r *Relay) ([]string, error) {
	var out []string
	for {
		b, err := r.Next()
		if len(b) > 0 {
			out = append(out, string(b))
		}
		if err != nil {
			return out, err
		}
	}
}

func TestRelay(t *testing.T) {
	cases := []struct {
		name    string
		pieces  []string
		err     error
		want    []string
		wantErr error
	}{
		{
			name:    "one event per read is handed out as it arrives",
			pieces:  []string{"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"},
			err:     io.EOF,
			want:    []string{"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"},
			wantErr: io.EOF,
		},
		{
			name:    "an event split across reads is held until complete",
			pieces:  []string{"data: {\"a\"", ":1}\n", "\ndata: 2\n\nda", "ta: 3\n\n"},
			err:     io.EOF,
			want:    []string{"data: {\"a\":1}\n\ndata: 2\n\n", "data: 3\n\n"},
			wantErr: io.EOF,
		},
		{
			name:    "CRLF line endings",
			pieces:  []string{"data: 1\r\n\r\n", "data: 2\r\n", "\r\n"},
			err:     io.EOF,
			want:    []string{"data: 1\r\n\r\n", "data: 2\r\n\r\n"},
			wantErr: io.EOF,
		},
		{
			name:    "a break mid-event drops the partial event",
			pieces:  []string{"data: 1\n\ndata: 2", "2\n"},
			err:     errCut,
			want:    []string{"data: 1\n\n"},
			wantErr: errCut,
		},
		{
			name:    "a clean end passes a trailing partial event through",
			pieces:  []string{"data: 1\n\ndata: x"},
			err:     io.EOF,
			want:    []string{"data: 1\n\n", "data: x"},
			wantErr: io.EOF,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := drain(NewRelay(&chunks{pieces: append([]string(nil), tc.pieces...), err: tc.err}, nil))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("handed out (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestAppendError(t *testing.T) {
	ev := AppendError(nil, 502, "BadGateway", `engine "a" went away`)
	if !bytes.HasPrefix(ev, []byte("data: ")) || !bytes.HasSuffix(ev, []byte("\n\n")) {
		t.Fatalf("not an event: %q", ev)
	}
	var body struct {
		Error struct {
			Message string `json:"message"`
			Code    int    `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(ev[len("data: "):]), &body); err != nil {
		t.Fatal(err)
	}
	if body.Error.Message != `engine "a" went away` || body.Error.Code != 502 {
		t.Errorf("decoded %+v", body)
	}
}

// FuzzRelay cuts a stream into arbitrary reads and checks that the relay
// passes every byte through in order on a clean end, only whole events
// before a break, and never hands out a piece ending mid-event except at the
// clean end.
func FuzzRelay(f *testing.F) {
	f.Add("data: 1\n\ndata: 2\n\n", []byte{3, 5}, false)
	f.Add("data: 1\r\n\r\ndata: 2\n", []byte{1}, true)
	f.Add("\n\n\n", []byte{1, 1}, true)
	f.Add("x", []byte{}, false)
	f.Fuzz(func(t *testing.T, stream string, cuts []byte, broken bool) {
		var pieces []string
		rest := stream
		for _, c := range cuts {
			n := min(int(c), len(rest))
			if n > 0 {
				pieces = append(pieces, rest[:n])
				rest = rest[n:]
			}
		}
		if rest != "" {
			pieces = append(pieces, rest)
		}
		end := io.EOF
		if broken {
			end = errCut
		}
		got, err := drain(NewRelay(&chunks{pieces: pieces, err: end}, nil))
		if !errors.Is(err, end) {
			t.Fatalf("error %v, want %v", err, end)
		}
		all := strings.Join(got, "")
		want := stream
		if broken {
			want = stream[:lastEventEnd(stream)]
		}
		if all != want {
			t.Fatalf("relayed %q, want %q", all, want)
		}
		sent := 0
		for i, g := range got {
			sent += len(g)
			if (broken || i < len(got)-1) && lastEventEnd(all[:sent]) != sent {
				t.Fatalf("piece %d %q ends mid-event", i, g)
			}
		}
	})
}

// lastEventEnd is the reference: the end of the last blank line in s.
func lastEventEnd(s string) int {
	end := 0
	for i := 1; i < len(s); i++ {
		if s[i] == '\n' && (s[i-1] == '\n' || (s[i-1] == '\r' && i >= 2 && s[i-2] == '\n')) {
			end = i + 1
		}
	}
	return end
}
