package gateway

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// wsFrame is a frame as a server sends it (masked if mask), with n bytes of payload.
func wsFrame(opcode byte, n int, mask bool) []byte {
	b := []byte{0x80 | opcode, 0}
	switch {
	case n < 126:
		b[1] = byte(n)
	case n < 1<<16:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if mask {
		b[1] |= 0x80
		b = append(b, 1, 2, 3, 4)
	}
	return append(b, bytes.Repeat([]byte{'x'}, n)...)
}

// boundaries feeds stream to a wsFrames in the chunks that cut gives and returns the offsets at
// which a frame ended.
func boundaries(stream []byte, cut func(left int) int) []int {
	var f wsFrames
	var ends []int
	off := 0
	for off < len(stream) {
		chunk := stream[off : off+cut(len(stream)-off)]
		for len(chunk) > 0 {
			n := f.consume(chunk)
			if n == 0 {
				panic("consume took nothing")
			}
			off += n
			chunk = chunk[n:]
			if f.between() {
				ends = append(ends, off)
			}
		}
	}
	return ends
}

func TestWSFrames(t *testing.T) {
	var stream []byte
	var want []int
	for _, fr := range [][]byte{wsFrame(1, 0, false), wsFrame(2, 125, false), wsFrame(2, 126, false), wsFrame(9, 3, true),
		wsFrame(2, 70000, false), wsFrame(1, 65535, true), wsFrame(8, 2, false)} {
		stream = append(stream, fr...)
		want = append(want, len(stream))
	}
	for name, cut := range map[string]func(int) int{
		"whole":     func(left int) int { return left },
		"bytes":     func(int) int { return 1 },
		"threes":    func(left int) int { return min(3, left) },
		"at random": func(left int) int { return 1 + rand.IntN(left) },
	} {
		if got := boundaries(stream, cut); !slices.Equal(got, want) {
			t.Errorf("%s: frames end at %v, want %v", name, got, want)
		}
	}
}

// FuzzWSFrames: whatever bytes come, however cut, the frames end at the same offsets.
func FuzzWSFrames(f *testing.F) {
	f.Add(append(wsFrame(1, 5, false), wsFrame(2, 300, true)...), uint64(7))
	f.Add([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'}, uint64(1))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		r := rand.New(rand.NewPCG(seed, seed))
		whole := boundaries(stream, func(left int) int { return left })
		bytewise := boundaries(stream, func(int) int { return 1 })
		random := boundaries(stream, func(left int) int { return 1 + r.IntN(left) })
		if !slices.Equal(whole, bytewise) || !slices.Equal(whole, random) {
			t.Fatalf("frames end at %v whole, %v byte by byte, %v cut at random", whole, bytewise, random)
		}
	})
}

// TestDrainWriter: goAway sends the Close at once between frames, or after the frame begun, and
// drops what follows; a writer never asked passes everything.
func TestDrainWriter(t *testing.T) {
	a, b, c := wsFrame(1, 10, false), wsFrame(2, 200, false), wsFrame(1, 3, false)
	for _, tc := range []struct {
		name   string
		before []byte // written before goAway
		after  []byte // written after
		want   []byte
	}{
		{"between", a, append(b, c...), append(slices.Clone(a), goingAway...)},
		{"in a header", append(slices.Clone(a), b[:1]...), append(b[1:], c...), append(append(slices.Clone(a), b...), goingAway...)},
		{"in a payload", append(slices.Clone(a), b[:50]...), append(b[50:], c...), append(append(slices.Clone(a), b...), goingAway...)},
	} {
		var out bytes.Buffer
		w := &drainWriter{dst: &out}
		w.Write(tc.before)
		if err := w.goAway(); err != nil {
			t.Fatal(err)
		}
		if n, err := w.Write(tc.after); n != len(tc.after) || err != nil {
			t.Errorf("%s: Write after goAway = %d, %v; want all taken", tc.name, n, err)
		}
		if !bytes.Equal(out.Bytes(), tc.want) {
			t.Errorf("%s: the client got %d bytes ending %x, want %d ending %x", tc.name, out.Len(), tail(out.Bytes()), len(tc.want), tail(tc.want))
		}
	}
	var out bytes.Buffer
	w := &drainWriter{dst: &out}
	all := slices.Concat(a, b, c)
	w.Write(all)
	if !bytes.Equal(out.Bytes(), all) {
		t.Error("without goAway, the frames did not pass as they came")
	}
}

func tail(b []byte) []byte { return b[max(0, len(b)-6):] }
