package h1

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

func TestChunkedReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		trailer map[string]string
		err     error // nil: io.EOF reached
	}{
		{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\n", want: "hello"},
		{name: "several chunks, upper-case hex", in: "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", want: "abc0123456789"},
		{name: "leading zeros", in: "0003\r\nabc\r\n000\r\n\r\n", want: "abc"},
		{name: "extensions", in: "3;a=b;c=\"q \\\" d\" ; e\r\nabc\r\n0;last\r\n\r\n", want: "abc"},
		{name: "trailers", in: "1\r\nx\r\n0\r\nX-Sum: 1\r\nx-other:  2 \r\nContent-Length: 9\r\n\r\n", want: "x",
			trailer: map[string]string{"X-Sum": "1", "X-Other": "2"}},
		{name: "empty body", in: "0\r\n\r\n", want: ""},
		{name: "no digits", in: "\r\n", err: errChunkSize},
		{name: "not hex", in: "g\r\n", err: errChunkSize},
		{name: "signed", in: "-1\r\n", err: errChunkSize},
		{name: "0x prefix", in: "0x5\r\nhello\r\n0\r\n\r\n", err: errChunkExt},
		{name: "overflow", in: "8000000000000000\r\n", err: errChunkSize},
		{name: "space inside size", in: "1 2\r\n", err: errChunkExt},
		{name: "control in extension", in: "1;a\x01\r\nx\r\n0\r\n\r\n", err: errChunkExt},
		{name: "unterminated quote", in: "1;a=\"x\r\nx\r\n0\r\n\r\n", err: errChunkExt},
		{name: "bare LF size line", in: "1\nx\r\n0\r\n\r\n", err: errChunkLine},
		{name: "data not followed by CRLF", in: "1\r\nxy\r\n0\r\n\r\n", err: errChunkEnd},
		{name: "bare LF after data", in: "1\r\nx\n0\r\n\r\n", err: errChunkEnd},
		{name: "malformed trailer", in: "0\r\nno colon\r\n\r\n", err: errTrailer},
		{name: "obs-fold trailer", in: "0\r\nX: a\r\n b\r\n\r\n", err: errTrailer},
		{name: "too many trailers", in: "0\r\n" + strings.Repeat("X: y\r\n", 11) + "\r\n", err: errTrailer},
		{name: "line longer than the buffer", in: "1;" + strings.Repeat("a", 5000) + "\r\nx\r\n0\r\n\r\n", err: errChunkLine},
		{name: "extension flood", in: strings.Repeat("1;"+strings.Repeat("e", 1000)+"\r\nx\r\n", 40), err: errChunkOverhead},
		{name: "truncated data", in: "5\r\nhel", err: io.ErrUnexpectedEOF},
		{name: "truncated before last chunk", in: "5\r\nhello\r\n", err: io.ErrUnexpectedEOF},
		{name: "truncated trailers", in: "0\r\nX: y\r\n", err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		r := &chunkedReader{br: bufio.NewReaderSize(strings.NewReader(tt.in), bufferSize), lim: limits{headerBytes: 1024, headerCount: 10}}
		got, err := io.ReadAll(r)
		if tt.err == nil {
			if err != nil || string(got) != tt.want {
				t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
			}
		} else if !errors.Is(err, tt.err) {
			t.Errorf("%s: got error %v, want %v", tt.name, err, tt.err)
		}
		if tt.err != nil && tt.err != io.ErrUnexpectedEOF && !errors.Is(err, ErrMalformedBody) {
			t.Errorf("%s: got %v, want it to match ErrMalformedBody", tt.name, err)
		}
		if len(r.trailer) != len(tt.trailer) {
			t.Errorf("%s: got trailer %v, want %v", tt.name, r.trailer, tt.trailer)
		}
		for k, v := range tt.trailer {
			if got := r.trailer.Get(k); got != v {
				t.Errorf("%s: trailer %s: got %q, want %q", tt.name, k, got, v)
			}
		}
	}
}

// TestSmallChunksAllowed checks that the framing bound leaves ordinary small chunks alone.
func TestSmallChunksAllowed(t *testing.T) {
	in := strings.Repeat("1\r\nx\r\n", 100000) + "0\r\n\r\n"
	r := &chunkedReader{br: bufio.NewReader(strings.NewReader(in)), lim: defaultLimits}
	got, err := io.ReadAll(r)
	if err != nil || len(got) != 100000 {
		t.Errorf("got %d bytes, %v; want 100000 one-byte chunks read", len(got), err)
	}
}

// TestForbiddenTrailerCoversNetHTTP: every field name that net/http refuses in a trailer
// (httpguts.ValidTrailerHeader) is refused here too, whatever else is.
func TestForbiddenTrailerCoversNetHTTP(t *testing.T) {
	names := []string{
		"Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Length",
		"Content-Range", "Content-Type", "Expect", "Host", "Keep-Alive", "Max-Forwards", "Pragma",
		"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Range", "Realm", "Te",
		"Trailer", "Transfer-Encoding", "Www-Authenticate", "If-Match", "If-Schedule-Tag-Match",
		"X-Checksum", "Grpc-Status", "Server-Timing",
	}
	for _, name := range names {
		if !httpguts.ValidTrailerHeader(name) && !forbiddenTrailer(name) {
			t.Errorf("forbiddenTrailer(%q) = false; net/http refuses it in a trailer", name)
		}
	}
	for _, name := range []string{"X-Checksum", "Grpc-Status", "Server-Timing"} {
		if forbiddenTrailer(name) {
			t.Errorf("forbiddenTrailer(%q) = true, want a trailer field allowed", name)
		}
	}
}
