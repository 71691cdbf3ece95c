package h2conn

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headersPayload is the payload of a HEADERS frame carrying kv, encoded by
// p's encoder: the pad length (pad >= 0), the priority fields (prio), the
// block and pad bytes of padding.
func (p *peer) headersPayload(pad int, prio bool, kv ...string) []byte {
	p.ebuf.Reset()
	for i := 0; i < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	var b []byte
	if pad >= 0 {
		b = append(b, byte(pad))
	}
	if prio {
		b = append(b, 0x80, 0, 0, 3, 15) // exclusive, on stream 3, weight 16
	}
	b = append(b, p.ebuf.Bytes()...)
	return append(b, make([]byte, max(pad, 0))...)
}

// headersFlags are the flags of a HEADERS frame that ends its block, with
// PADDED where pad >= 0 and PRIORITY where prio.
func headersFlags(pad int, prio bool) http2.Flags {
	f := http2.FlagHeadersEndHeaders
	if pad >= 0 {
		f |= http2.FlagHeadersPadded
	}
	if prio {
		f |= http2.FlagHeadersPriority
	}
	return f
}

// TestHeadersFraming: a response head arrives whole whatever padding and
// priority fields its HEADERS frame carries (RFC 9113 6.2), and in a frame
// too large for the reader's own array; a frame on stream 0, too short for
// what its flags announce, or with more padding than payload ends the
// connection with the framer's codes, FRAME_SIZE_ERROR for the short ones
// (RFC 9113 4.2).
func TestHeadersFraming(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pad   int // -1: not PADDED
		prio  bool
		value string
	}{
		{"plain", -1, false, "v"},
		{"pad length 0", 0, false, "v"},
		{"padded", 200, false, "v"},
		{"priority", -1, true, "v"},
		{"padded with priority", 7, true, "v"},
		{"beyond the reader's array", 3, true, strings.Repeat("v", headersInline)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPeer(t, Config{})
				r := p.start(get("/"))
				id := p.expect(http2.FrameHeaders).StreamID
				payload := p.headersPayload(tc.pad, tc.prio, ":status", "200", "x-a", tc.value)
				p.must(p.fr.WriteRawFrame(http2.FrameHeaders, headersFlags(tc.pad, tc.prio)|http2.FlagHeadersEndStream, id, payload))
				if r.wait(); r.err != nil || r.res.StatusCode != 200 || r.res.Header.Get("X-A") != tc.value {
					t.Fatalf("RoundTrip: %v, %v", r.res, r.err)
				}
				if st := p.c.State(); st.Closed || st.Active != 0 {
					t.Errorf("State %+v, want open with no stream", st)
				}
			})
		})
	}
	for _, tc := range []struct {
		name    string
		zero    bool // on stream 0, else on the request's
		flags   http2.Flags
		payload []byte
		code    http2.ErrCode
	}{
		{"stream 0", true, http2.FlagHeadersEndHeaders, []byte{0x88}, http2.ErrCodeProtocol},
		{"no pad length", false, headersFlags(0, false), nil, http2.ErrCodeFrameSize},
		{"no room for the priority", false, headersFlags(-1, true), []byte{0, 0, 0}, http2.ErrCodeFrameSize},
		{"padding past the payload", false, headersFlags(0, false), []byte{2, 0x88}, http2.ErrCodeProtocol},
		{"padding past the priority", false, headersFlags(0, true), []byte{1, 0, 0, 0, 3, 15}, http2.ErrCodeProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPeer(t, Config{})
				r := p.start(get("/"))
				id := p.expect(http2.FrameHeaders).StreamID
				if tc.zero {
					id = 0
				}
				p.must(p.fr.WriteRawFrame(http2.FrameHeaders, tc.flags, id, tc.payload))
				if ga := p.expect(http2.FrameGoAway); ga.code != tc.code {
					t.Errorf("GOAWAY code %v, want %v", ga.code, tc.code)
				}
				r.wait()
				var ce *ConnError
				if !errors.As(r.err, &ce) || ce.Code != tc.code || ce.Remote {
					t.Errorf("RoundTrip = %v, want our %v ConnError", r.err, tc.code)
				}
				<-p.c.Done()
			})
		})
	}
}
