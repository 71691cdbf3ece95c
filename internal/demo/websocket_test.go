package demo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// masked is f as a client sends it, masked with key (RFC 6455 5.3).
func masked(f frame, key [4]byte) []byte {
	b := appendFrame(nil, frame{fin: f.fin, opcode: f.opcode})
	b = b[:1] // the first byte; the length follows with the mask bit
	n := len(f.payload)
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	b = append(b, key[:]...)
	for i, c := range f.payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func parse(b []byte) (frame, error) { return readFrame(bufio.NewReader(bytes.NewReader(b))) }

func TestReadFrame(t *testing.T) {
	// RFC 6455 5.7: a single-frame masked text message, "Hello".
	hello := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	f, err := parse(hello)
	if err != nil || !f.fin || f.opcode != opText || string(f.payload) != "Hello" {
		t.Fatalf("got %+v, %v; want a whole text frame Hello", f, err)
	}
	// RFC 6455 5.7: the server's unmasked answer.
	if got, want := appendFrame(nil, f), []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}; !bytes.Equal(got, want) {
		t.Errorf("appendFrame: got % x, want % x", got, want)
	}
	key := [4]byte{1, 2, 3, 4}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"unmasked", []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}, errFrame},
		{"reserved bit", append([]byte{0xc1}, hello[1:]...), errFrame},
		{"16-bit length under 126", []byte{0x82, 0x80 | 126, 0, 5}, errFrame},
		{"64-bit length under 65536", []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, errFrame},
		{"64-bit length with its top bit", []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, errFrame},
		{"long ping", masked(frame{fin: true, opcode: opPing, payload: make([]byte, 126)}, key), errFrame},
		{"fragmented ping", masked(frame{opcode: opPing}, key), errFrame},
		{"too large", []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x20, 0, 0}, errFrameBig},
		{"cut short", hello[:8], io.ErrUnexpectedEOF},
	} {
		if _, err := parse(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, n := range []int{0, 125, 126, 0xffff, 0x10000} {
		in := frame{fin: n%2 == 0, opcode: opBinary, payload: []byte(strings.Repeat("x", n))}
		if f, err := parse(masked(in, key)); err != nil || f.fin != in.fin || !bytes.Equal(f.payload, in.payload) {
			t.Errorf("%d bytes: got %v, %v", n, len(f.payload), err)
		}
	}
}

// FuzzReadFrame: readFrame takes any bytes without panicking or reading past the frame, and a
// frame it takes, masked again, reads back the same.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})
	f.Add(masked(frame{fin: true, opcode: opClose, payload: []byte{3, 232}}, [4]byte{9, 9, 9, 9}))
	f.Add(masked(frame{opcode: opBinary, payload: make([]byte, 300)}, [4]byte{}))
	f.Add([]byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parse(b)
		if err != nil {
			return
		}
		again, err := parse(masked(got, [4]byte{0xa5, 0x5a, 0, 0xff}))
		if err != nil || again.fin != got.fin || again.opcode != got.opcode || !bytes.Equal(again.payload, got.payload) {
			t.Fatalf("%+v masked again read back as %+v, %v", got, again, err)
		}
	})
}
