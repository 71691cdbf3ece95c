package h2conn

import (
	"io"

	"golang.org/x/net/http2"
)

// A HEADERS frame (RFC 9113 6.2) of at most headersInline bytes, once the
// peer's SETTINGS came, skips the framer's parse too, as DATA frames do
// (data.go): the framer allocated a HeadersFrame for each, one allocation
// of every response's few (about 370 instructions under callgrind). The
// reader copies the payload from its read buffer into the Conn's own
// array and takes the block fragment out of it as the framer would, with
// the framer's errors but one: a frame too short for the pad length or
// the priority its flags announce is a FRAME_SIZE_ERROR (RFC 9113 4.2),
// where the framer reported a short read. The framer still checks the
// frame's size and its place among CONTINUATION frames, in
// ReadFrameHeader, and reads the CONTINUATION frames of a block.

// headersInline is the largest HEADERS payload the reader takes itself;
// a larger one goes through the framer. Most response heads are a few
// hundred bytes.
const headersInline = 4 << 10

// readsHeaders reports whether the reader takes the HEADERS frame fh
// itself (readHeaders).
func (c *Conn) readsHeaders(fh http2.FrameHeader) bool {
	return fh.Type == http2.FrameHeaders && c.gotSettings && fh.Length <= headersInline
}

// readHeaders reads the payload of the HEADERS frame fh and handles it as
// onFrame would. It returns a connection error, a *streamReset or a read
// error.
func (c *Conn) readHeaders(fh http2.FrameHeader) error {
	p := c.hbuf[:fh.Length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return &opError{"read", err}
	}
	frag, err := headersFragment(fh, p)
	if err != nil {
		return err
	}
	return c.onHeaders(fh, frag)
}

// headersFragment returns the header block fragment of the HEADERS frame
// fh with payload p: p less the pad length, the priority fields and the
// padding that fh's flags announce (RFC 9113 6.2; the priority is
// deprecated and ignored, RFC 9113 5.3.2).
func headersFragment(fh http2.FrameHeader, p []byte) ([]byte, error) {
	if fh.StreamID == 0 {
		return nil, connError(http2.ErrCodeProtocol, "HEADERS frame with stream ID 0")
	}
	pad := 0
	if fh.Flags.Has(http2.FlagHeadersPadded) {
		if len(p) == 0 {
			return nil, connError(http2.ErrCodeFrameSize, "PADDED HEADERS frame without its pad length")
		}
		pad, p = int(p[0]), p[1:]
	}
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		if len(p) < 5 {
			return nil, connError(http2.ErrCodeFrameSize, "HEADERS frame without room for its priority")
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, connError(http2.ErrCodeProtocol, "HEADERS frame padding longer than its payload")
	}
	return p[:len(p)-pad], nil
}
