package sendbuf

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
)

// waitBody is a tunnel's body whose waits and reads are seen: it fails the test when the sender
// holds a buffer of bufs while it waits in WaitRead, or the big one while it reads into the
// small one, and records the size of each buffer it is given.
type waitBody struct {
	t       *testing.T
	bufs    *Buffers // the sender's
	canWait bool     // WaitRead's answer
	chunks  [][]byte // what each Read returns, then end
	end     error    // the Read after the last chunk returns it
	sizes   []int    // len(p) of each Read
}

func (b *waitBody) WaitRead() bool {
	if b.bufs.big != nil || b.bufs.small != nil {
		b.t.Errorf("WaitRead after %d Reads: the sender holds a buffer (big %t, small %t), want none",
			len(b.sizes), b.bufs.big != nil, b.bufs.small != nil)
	}
	return b.canWait
}

func (b *waitBody) Read(p []byte) (int, error) {
	b.sizes = append(b.sizes, len(p))
	if len(p) == SmallSize && b.bufs.big != nil {
		b.t.Errorf("Read %d into the small buffer: the sender holds the big one too", len(b.sizes))
	}
	if len(b.chunks) == 0 {
		return 0, b.end
	}
	n := copy(p, b.chunks[0])
	if n < len(b.chunks[0]) {
		b.t.Fatalf("Read %d: chunk of %d bytes in a buffer of %d", len(b.sizes), len(b.chunks[0]), len(p))
	}
	b.chunks = b.chunks[1:]
	return n, nil
}

// failWriter fails every Write.
type failWriter struct{}

var errWrite = errors.New("write failed")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

// TestCopy: a body that can wait for its bytes is read only into the big buffer and holds
// none while it waits; one that cannot tell (a tunnel over TLS) waits in the small one, and reads
// into the big one only after a Read that filled the small one. Each copies the body whole, and
// tells a failed Read from a failed Write.
func TestCopy(t *testing.T) {
	small := bytes.Repeat([]byte("s"), SmallSize)
	big := bytes.Repeat([]byte("b"), Size)
	errRead := errors.New("read failed")
	for _, tc := range []struct {
		name       string
		canWait    bool
		chunks     [][]byte
		end        error
		w          io.Writer
		wantSizes  []int
		rerr, werr error
	}{
		{"waits", true, [][]byte{[]byte("hi"), big, []byte("there")}, io.EOF, nil,
			[]int{Size, Size, Size, Size}, nil, nil},
		{"cannot tell", false, [][]byte{[]byte("hi"), small, big, []byte("x"), small, []byte("y")}, io.EOF, nil,
			[]int{SmallSize, SmallSize, Size, Size, SmallSize, Size, SmallSize},
			nil, nil},
		{"read fails", false, [][]byte{[]byte("hi")}, errRead, nil,
			[]int{SmallSize, SmallSize}, errRead, nil},
		{"write fails", true, [][]byte{[]byte("hi")}, io.EOF, failWriter{},
			[]int{Size}, nil, errWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bufs Buffers
			body := &waitBody{t: t, bufs: &bufs, canWait: tc.canWait, chunks: tc.chunks, end: tc.end}
			want := bytes.Join(tc.chunks, nil)
			var out bytes.Buffer
			w := tc.w
			if w == nil {
				w = &out
			}
			rerr, werr := bufs.Copy(w, body)
			if rerr != tc.rerr || werr != tc.werr {
				t.Errorf("copy = %v, %v; want %v, %v", rerr, werr, tc.rerr, tc.werr)
			}
			if !slices.Equal(body.sizes, tc.wantSizes) {
				t.Errorf("Read buffer sizes %v, want %v", body.sizes, tc.wantSizes)
			}
			if tc.w == nil && !bytes.Equal(out.Bytes(), want) {
				t.Errorf("copied %d bytes, want the body's %d", out.Len(), len(want))
			}
			if bufs.big != nil || bufs.small != nil {
				t.Errorf("copy returned holding a buffer (big %t, small %t)", bufs.big != nil, bufs.small != nil)
			}
		})
	}
}
