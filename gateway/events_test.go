package gateway

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"

	"muxgate/internal/fieldlist"
)

// eventBoundaries feeds stream to an eventLines in pieces of the sizes cut gives (of the bytes
// left) and returns the offsets at which events end.
func eventBoundaries(stream []byte, cut func(left int) int) []int {
	var l eventLines
	var at []int
	for off := 0; off < len(stream); {
		piece := stream[off : off+cut(len(stream)-off)]
		for len(piece) > 0 {
			n, boundary := l.consume(piece)
			piece, off = piece[n:], off+n
			if boundary {
				at = append(at, off)
			}
		}
	}
	return at
}

// TestEventLines: an event ends with an empty line, whatever ends the lines (CR LF, LF, CR), and
// wherever the stream is cut.
func TestEventLines(t *testing.T) {
	var stream []byte
	var want []int
	for _, ev := range []struct{ text, after string }{
		{"data: a\n\n", ""},
		{"data: b\r\n\r", "\n"}, // the event ends at the CR; its LF ends the same line
		{": comment\r\r", ""},
		{"data: c\r\ndata: d\n\r", "\n\n"}, // another empty line ends no other event
		{"data: e\r\n\r", ""},
	} {
		stream = append(stream, ev.text...)
		want = append(want, len(stream))
		stream = append(stream, ev.after...)
	}
	for name, cut := range map[string]func(int) int{
		"whole":     func(left int) int { return left },
		"bytes":     func(int) int { return 1 },
		"at random": func(left int) int { return 1 + rand.IntN(left) },
	} {
		if got := eventBoundaries(stream, cut); !slices.Equal(got, want) {
			t.Errorf("%s: events end at %v, want %v", name, got, want)
		}
	}
}

// FuzzEventLines: whatever bytes come, however cut, the events end at the same offsets.
func FuzzEventLines(f *testing.F) {
	f.Add([]byte("data: a\r\n\r\ndata: b\n\n"), uint64(3))
	f.Add([]byte("\r\r\n\n\r"), uint64(1))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		r := rand.New(rand.NewPCG(seed, seed))
		whole := eventBoundaries(stream, func(left int) int { return left })
		bytewise := eventBoundaries(stream, func(int) int { return 1 })
		random := eventBoundaries(stream, func(left int) int { return 1 + r.IntN(left) })
		if !slices.Equal(whole, bytewise) || !slices.Equal(whole, random) {
			t.Fatalf("events end at %v whole, %v byte by byte, %v cut at random", whole, bytewise, random)
		}
	})
}

// recorder is a ResponseWriter that takes several buffers at once, as h1's does.
type recorder struct {
	bytes.Buffer
	calls int
}

func (r *recorder) Header() http.Header { return http.Header{} }
func (r *recorder) WriteHeader(int)     {}
func (r *recorder) WriteBuffers(bufs [][]byte) (int64, error) {
	r.calls++
	var n int64
	for _, b := range bufs {
		m, _ := r.Write(b)
		n += int64(m)
	}
	return n, nil
}

// closer records that the upstream's body was closed.
type closer struct{ closed bool }

func (c *closer) Close() error { c.closed = true; return nil }

// TestEventWriter: goAway ends a stream between events at once, by closing the upstream's body;
// one within an event at its end, in the middle of a buffer too, and nothing after that goes
// out; a writer never asked passes everything, in one call for several buffers.
func TestEventWriter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before [][]byte // written before goAway
		after  [][]byte // written after
		closes bool     // goAway closes the body
		want   string
	}{
		{"nothing written", nil, [][]byte{[]byte("data: a\n\n")}, true, ""},
		{"between", [][]byte{[]byte("data: a\n\n")}, [][]byte{[]byte("data: b\n\n")}, true, "data: a\n\n"},
		{"within", [][]byte{[]byte("data: a\n")}, [][]byte{[]byte("data: b\n"), []byte("\ndata: c\n\n")}, false, "data: a\ndata: b\n\n"},
		{"within, a CR", [][]byte{[]byte("data: a\r")}, [][]byte{[]byte("\r\ndata: b\r\r")}, false, "data: a\r\r"},
	} {
		var rec recorder
		var body closer
		ew := newEventWriter(&rec, &body)
		for _, b := range tc.before {
			if _, err := ew.Write(b); err != nil {
				t.Fatalf("%s: %v before goAway", tc.name, err)
			}
		}
		ew.goAway()
		if body.closed != tc.closes || ew.endedByDrain() != tc.closes {
			t.Errorf("%s: goAway closed the body %v and ended the stream %v, want %v", tc.name, body.closed, ew.endedByDrain(), tc.closes)
		}
		_, err := ew.WriteBuffers(tc.after)
		if rec.String() != tc.want || !errors.Is(err, errEventsEnded) || !ew.endedByDrain() {
			t.Errorf("%s: wrote %q, %v; want %q and errEventsEnded", tc.name, rec.String(), err, tc.want)
		}
	}
	var rec recorder
	ew := newEventWriter(&rec, &closer{})
	bufs := [][]byte{[]byte("data: a\n\nda"), []byte("ta: b\n\n")}
	if n, err := ew.WriteBuffers(bufs); n != 18 || err != nil || rec.calls != 1 || rec.String() != "data: a\n\ndata: b\n\n" {
		t.Errorf("without a drain: %d, %v in %d calls, %q", n, err, rec.calls, rec.String())
	}
	if string(bufs[0]) != "data: a\n\nda" || len(bufs) != 2 {
		t.Errorf("the caller's buffers changed: %q", bufs)
	}
}

// TestEventStream: which responses a drain may end between events.
func TestEventStream(t *testing.T) {
	resp := func(code int, length int64, fields ...string) (*http.Response, []fieldlist.Field) {
		var list []fieldlist.Field
		h := http.Header{}
		for i := 0; i < len(fields); i += 2 {
			list = append(list, fieldlist.Field{Name: fields[i], Value: fields[i+1]})
			h.Add(fields[i], fields[i+1])
		}
		return &http.Response{StatusCode: code, ContentLength: length, Header: h}, list
	}
	for _, tc := range []struct {
		name   string
		code   int
		length int64
		fields []string
		want   bool
	}{
		{"event stream", 200, -1, []string{"content-type", "text/event-stream"}, true},
		{"with parameters", 200, -1, []string{"content-type", "Text/Event-Stream; charset=utf-8"}, true},
		{"identity", 200, -1, []string{"content-type", "text/event-stream", "content-encoding", "identity"}, true},
		{"gzip", 200, -1, []string{"content-type", "text/event-stream", "content-encoding", "gzip"}, false},
		{"a length", 200, 100, []string{"content-type", "text/event-stream"}, false},
		{"not 200", 503, -1, []string{"content-type", "text/event-stream"}, false},
		{"text", 200, -1, []string{"content-type", "text/plain"}, false},
		{"none", 200, -1, nil, false},
	} {
		r, list := resp(tc.code, tc.length, tc.fields...)
		if got := eventStream(r, nil); got != tc.want {
			t.Errorf("%s, as a Header: %v, want %v", tc.name, got, tc.want)
		}
		r.Header = nil
		if got := eventStream(r, list); got != tc.want {
			t.Errorf("%s, as a list: %v, want %v", tc.name, got, tc.want)
		}
	}
}

var _ io.Closer = (*closer)(nil)
