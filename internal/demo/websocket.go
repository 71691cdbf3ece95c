package demo

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
)

// The demo's WebSocket echo speaks RFC 6455 over the stream of an extended CONNECT (RFC 8441 over
// HTTP/2, RFC 9220 over HTTP/3): what a WebSocket server behind muxgate sees. It sends each data
// message back as it came, answers a ping with a pong, and a close with a close.

// WebSocket opcodes (RFC 6455 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxFramePayload bounds a frame the echo takes; a larger one closes with 1009 (RFC 6455 7.4.1).
const maxFramePayload = 1 << 20

var (
	errFrame    = errors.New("demo: malformed WebSocket frame")
	errFrameBig = errors.New("demo: WebSocket frame too large")
)

// frame is one WebSocket frame, its payload unmasked.
type frame struct {
	fin     bool
	opcode  byte
	payload []byte
}

// readFrame reads one frame that a client sent: masked (RFC 6455 5.3), without reserved bits (no
// extension is negotiated, 5.2), its length in the fewest bytes (5.2), and, for a control frame,
// whole and at most 125 bytes long (5.5). Errors: errFrame, errFrameBig beyond maxFramePayload, or
// the reader's.
func readFrame(br *bufio.Reader) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, opcode: h[0] & 0x0f}
	if h[0]&0x70 != 0 || h[1]&0x80 == 0 {
		return f, errFrame
	}
	n, err := frameLength(br, h[1]&0x7f)
	if err != nil {
		return f, err
	}
	if f.opcode >= opClose && (n > 125 || !f.fin) {
		return f, errFrame
	}
	if n > maxFramePayload {
		return f, errFrameBig
	}
	var key [4]byte
	if _, err := io.ReadFull(br, key[:]); err != nil {
		return f, err
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(br, f.payload); err != nil {
		return f, err
	}
	for i := range f.payload {
		f.payload[i] ^= key[i%4]
	}
	return f, nil
}

// frameLength reads the extended payload length that the 7-bit length n announces, if any.
func frameLength(br *bufio.Reader, n byte) (uint64, error) {
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, err
		}
		if v := binary.BigEndian.Uint16(b[:]); v >= 126 {
			return uint64(v), nil
		}
		return 0, errFrame
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, err
		}
		// The most significant bit must be 0.
		if v := binary.BigEndian.Uint64(b[:]); v > 0xffff && v>>63 == 0 {
			return v, nil
		}
		return 0, errFrame
	}
	return uint64(n), nil
}

// appendFrame appends f as a server sends it: unmasked.
func appendFrame(b []byte, f frame) []byte {
	b0 := f.opcode
	if f.fin {
		b0 |= 0x80
	}
	b = append(b, b0)
	switch n := len(f.payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
	return append(b, f.payload...)
}

// closeFrame is a close frame with a status code (RFC 6455 5.5.1, 7.4.1).
func closeFrame(code uint16) frame {
	return frame{fin: true, opcode: opClose, payload: binary.BigEndian.AppendUint16(nil, code)}
}

// webSocketEcho serves /websocket: a WebSocket echo for the extended CONNECT of one.
func webSocketEcho(w http.ResponseWriter, r *http.Request) {
	// x/net's server gives :protocol as a field, quic-go's as the request's Proto.
	if r.Method != http.MethodConnect || (r.Header.Get(":protocol") != "websocket" && r.Proto != "websocket") {
		http.Error(w, "a WebSocket, over an extended CONNECT, only\n", http.StatusBadRequest)
		return
	}
	if r.Header.Get("Sec-Websocket-Version") != "13" {
		w.Header().Set("Sec-Websocket-Version", "13") // RFC 6455 4.4
		http.Error(w, "WebSocket version 13 only\n", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	br := bufio.NewReader(r.Body)
	var out []byte
	for {
		f, err := readFrame(br)
		switch {
		case errors.Is(err, errFrame):
			f = closeFrame(1002)
		case errors.Is(err, errFrameBig):
			f = closeFrame(1009)
		case err != nil:
			return
		case f.opcode == opPing:
			f.opcode = opPong
		case f.opcode == opPong:
			continue
		case f.opcode > opBinary && f.opcode != opClose:
			f = closeFrame(1002) // a reserved opcode
		}
		out = appendFrame(out[:0], f)
		if _, err := w.Write(out); err != nil || rc.Flush() != nil || f.opcode == opClose {
			return
		}
	}
}
