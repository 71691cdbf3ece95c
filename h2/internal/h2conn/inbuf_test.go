package h2conn

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// TestInbufAsBufio: Read, Peek, Discard and Buffered give what bufio.Reader's give, over a
// source that returns a few bytes at a time and one that returns many.
func TestInbufAsBufio(t *testing.T) {
	src := patterned(3*readBufferSize+123, 7)
	type op struct {
		kind string // read, peek, discard
		n    int
	}
	ops := []op{{"peek", 1}, {"read", 9}, {"peek", 300}, {"discard", 5000}, {"read", 70000},
		{"peek", readBufferSize}, {"discard", readBufferSize + 17}, {"read", 1}, {"peek", 40000},
		{"read", 200000}, {"discard", 1 << 20}, {"read", 10}, {"peek", 1}}
	for _, name := range []string{"one byte a read", "whole"} {
		wrap := func(r io.Reader) io.Reader {
			if name == "one byte a read" {
				return iotest.OneByteReader(r)
			}
			return r
		}
		ours := newInbuf(wrap(bytes.NewReader(src)))
		theirs := bufio.NewReaderSize(wrap(bytes.NewReader(src)), readBufferSize)
		for i, o := range ops {
			var got, want []byte
			var gerr, werr error
			switch o.kind {
			case "read":
				got, want = make([]byte, o.n), make([]byte, o.n)
				var gn, wn int
				gn, gerr = io.ReadFull(ours, got)
				wn, werr = io.ReadFull(theirs, want)
				got, want = got[:gn], want[:wn]
			case "peek":
				got, gerr = ours.Peek(o.n)
				want, werr = theirs.Peek(o.n)
			case "discard":
				var gn, wn int
				gn, gerr = ours.Discard(o.n)
				wn, werr = theirs.Discard(o.n)
				got, want = []byte{byte(gn >> 8), byte(gn)}, []byte{byte(wn >> 8), byte(wn)}
			}
			if !bytes.Equal(got, want) || (gerr == nil) != (werr == nil) || ours.Buffered() > theirs.Buffered()+readBufferSize {
				t.Fatalf("%s: op %d %s(%d): got %d bytes, %v; bufio %d bytes, %v", name, i, o.kind, o.n, len(got), gerr, len(want), werr)
			}
		}
	}
}

// TestInbufTake: take gives the buffer's chunk with the taken bytes at off, and the bytes after
// them stay readable from a fresh chunk.
func TestInbufTake(t *testing.T) {
	src := patterned(readBufferSize, 1)
	b := newInbuf(bytes.NewReader(src))
	head, err := b.Peek(9)
	if err != nil {
		t.Fatal(err)
	}
	if b.canTake(head) {
		t.Errorf("canTake of 9 bytes, want false: less than half the buffer")
	}
	b.Discard(9)
	p, _ := b.Peek(40000)
	if !b.canTake(p) || b.canTake(bytes.Clone(p)) {
		t.Fatalf("canTake: want true for the front's 40000 bytes only, not for a copy of them")
	}
	chunk, off := b.take(len(p))
	if off != 9 || cap(chunk) != bigChunk || !bytes.Equal(chunk[off:], src[9:9+40000]) {
		t.Fatalf("take: offset %d, capacity %d (want 9, %d), or other bytes", off, cap(chunk), bigChunk)
	}
	rest, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(rest, src[9+40000:]) {
		t.Errorf("after take: read %d bytes, %v; want the %d after the taken ones", len(rest), err, len(src)-9-40000)
	}
	putChunk(chunk)
}
