package h2conn

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// open starts a GET and answers it with a 200 head; the RoundTrip has
// returned when open does.
func (p *peer) open(kv ...string) (*rt, uint32) {
	p.t.Helper()
	r := p.start(get("/"))
	f := p.expect(http2.FrameHeaders)
	p.headers(f.StreamID, false, append([]string{":status", "200"}, kv...)...)
	if r.wait(); r.err != nil {
		p.t.Fatal(r.err)
	}
	return r, f.StreamID
}

// paddedFrame is a DATA frame with a PADDED flag, its pad length and
// padding; end sets END_STREAM.
func paddedFrame(id uint32, end bool, data []byte, pad int) []byte {
	var b bytes.Buffer
	fr := http2.NewFramer(&b, nil)
	if err := fr.WriteDataPadded(id, end, data, make([]byte, pad)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// streamOf is the stream behind a response body.
func streamOf(b io.ReadCloser) *stream { return (*stream)(b.(*body)) }

// TestPaddedData: padding is stripped from the body, and counts toward
// flow control (RFC 9113 6.1, 6.9.1).
func TestPaddedData(t *testing.T) {
	t.Run("pad length 0 and payload-1", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPeer(t, Config{})
			r, id := p.open("content-length", "11")
			p.nc.Write(paddedFrame(id, false, []byte("hello"), 0))
			p.nc.Write(paddedFrame(id, false, nil, 255)) // pad length = payload length - 1: no data
			p.nc.Write(paddedFrame(id, true, []byte(" world"), 7))
			if b, err := io.ReadAll(r.res.Body); err != nil || string(b) != "hello world" {
				t.Errorf("body = %q, %v; want %q, nil", b, err, "hello world")
			}
			if st := p.c.State(); st.Closed || st.Active != 0 {
				t.Errorf("State %+v, want open with no stream", st)
			}
		})
	})
	t.Run("connection window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Credit is due at half the window, 32768 bytes: the data alone
			// (32100 bytes) stays below, the frames (32813 bytes) do not.
			p := newPeer(t, Config{StreamWindow: 64 << 10, ConnWindow: 64 << 10})
			_, id := p.open()
			p.nc.Write(paddedFrame(id, false, make([]byte, 16000), 255))
			p.nc.Write(paddedFrame(id, false, make([]byte, 16000), 255))
			p.nc.Write(paddedFrame(id, false, make([]byte, 100), 200))
			fs := p.queued()
			if len(fs) != 1 || fs[0].Type != http2.FrameWindowUpdate || fs[0].StreamID != 0 || fs[0].inc != 32813 {
				t.Errorf("client sent %+v, want one WINDOW_UPDATE of 32813 on the connection", fs)
			}
		})
	})
	t.Run("stream window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// 16100 bytes of data fit a 16384-byte window; 16457 bytes of
			// frames do not.
			p := newPeer(t, Config{StreamWindow: 16 << 10})
			_, id := p.open()
			p.nc.Write(paddedFrame(id, false, make([]byte, 16000), 255))
			p.nc.Write(paddedFrame(id, false, make([]byte, 100), 100))
			rst := p.expect(http2.FrameRSTStream)
			if rst.StreamID != id || rst.code != http2.ErrCodeFlowControl {
				t.Errorf("RST_STREAM stream %d code %v, want %d FLOW_CONTROL_ERROR", rst.StreamID, rst.code, id)
			}
		})
	})
	// A pad length as long as the payload or longer is a connection
	// error PROTOCOL_ERROR (RFC 9113 6.1); a PADDED frame with no room for
	// its pad length is too small for its mandatory data, FRAME_SIZE_ERROR
	// (RFC 9113 4.2).
	for _, tc := range []struct {
		name    string
		payload []byte
		code    http2.ErrCode
	}{
		{"pad length = payload length", []byte{3, 'a', 'b'}, http2.ErrCodeProtocol},
		{"pad length > payload length", []byte{200, 'a', 'b'}, http2.ErrCodeProtocol},
		{"pad length only", []byte{0xff}, http2.ErrCodeProtocol},
		{"no pad length", nil, http2.ErrCodeFrameSize},
	} {
		payload, code := tc.payload, tc.code
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPeer(t, Config{})
				r, id := p.open()
				p.must(p.fr.WriteRawFrame(http2.FrameData, http2.FlagDataPadded, id, payload))
				ga := p.expect(http2.FrameGoAway)
				if ga.code != code {
					t.Errorf("GOAWAY code %v, want %v", ga.code, code)
				}
				_, err := io.ReadAll(r.res.Body)
				var ce *ConnError
				if !errors.As(err, &ce) || ce.Code != code || ce.Remote {
					t.Errorf("body read = %v, want our %v ConnError", err, code)
				}
				<-p.c.Done()
			})
		})
	}
}

// openFramed opens a GET on a new peer with cfg, answered with a head
// that announces body's length, and returns the DATA frame, with pad bytes
// of padding and END_STREAM, that carries body on its stream.
func openFramed(t *testing.T, cfg Config, body []byte, pad int) (*peer, *rt, []byte) {
	t.Helper()
	p := newPeer(t, cfg)
	r, id := p.open("content-length", strconv.Itoa(len(body)))
	return p, r, paddedFrame(id, true, body, pad)
}

// expectRest reads the rest of r's body, which must be want, and checks
// that its stream has ended.
func expectRest(t *testing.T, p *peer, r *rt, want []byte) {
	t.Helper()
	rest, err := io.ReadAll(r.res.Body)
	if err != nil || !bytes.Equal(rest, want) {
		t.Errorf("rest of the body: %d bytes, %v; want %d bytes, nil", len(rest), err, len(want))
	}
	if st := p.c.State(); st.Active != 0 {
		t.Errorf("Active = %d after the whole body, want 0", st.Active)
	}
}

// TestDataInPieces: a DATA frame whose payload arrives in two reads goes
// to the body as it comes, but ends the stream only once all of it,
// padding included, has arrived.
func TestDataInPieces(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 1000)
	frame := paddedFrame(1, true, body, 50)
	for _, tc := range []struct {
		name string
		at   int // where the frame splits
	}{
		{"in the data", 9 + 1 + 3000},
		{"in the padding", len(frame) - 20},
		{"after the pad length", 9 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPeer(t, Config{})
				r, id := p.open("content-length", "10000")
				b := bytes.Clone(frame)
				b[8] = byte(id)
				p.nc.Write(b[:tc.at])
				synctest.Wait()
				if st := p.c.State(); st.Active != 1 {
					t.Fatalf("Active = %d with part of the frame read, want 1", st.Active)
				}
				first := min(max(tc.at-10, 0), len(body))
				buf := make([]byte, len(body))
				if first > 0 {
					n, err := r.res.Body.Read(buf)
					if n != first || err != nil || !bytes.Equal(buf[:n], body[:n]) {
						t.Fatalf("Read of the first piece = %d, %v; want %d bytes of the body, nil", n, err, first)
					}
				}
				p.nc.Write(b[tc.at:])
				expectRest(t, p, r, body[first:])
			})
		})
	}
	t.Run("larger than the read buffer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Config.MaxFrameSize lets the peer send a frame three times the
			// size of the read buffer: its data reaches the body read by
			// read, and the stream ends with the frame's last byte.
			body := bytes.Repeat([]byte("abcdefghij"), 35*readBufferSize/100)
			p, r, frame := openFramed(t, Config{MaxFrameSize: 4 * readBufferSize}, body, 50)
			at := 3*readBufferSize - 7
			p.nc.Write(frame[:at]) // returns once the reader has taken it all
			synctest.Wait()
			if st := p.c.State(); st.Active != 1 {
				t.Fatalf("Active = %d with part of the frame read, want 1", st.Active)
			}
			got := make([]byte, at-10)
			if _, err := io.ReadFull(r.res.Body, got); err != nil || !bytes.Equal(got, body[:len(got)]) {
				t.Fatalf("the bytes read so far: %v (or they differ from the body's)", err)
			}
			p.nc.Write(frame[at:])
			expectRest(t, p, r, body[len(got):])
		})
	})
	t.Run("large frame a little at a time", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Reads past the read buffer that bring a few bytes each are
			// copied into small chunks: the buffered body holds about as
			// much memory as bytes, not a 64 KiB chunk per read.
			want := bytes.Repeat([]byte("0123456789"), 6000)
			p, r, frame := openFramed(t, Config{MaxFrameSize: 64 << 10}, want, 0)
			for b := frame; len(b) > 0; {
				k := min(len(b), 1000)
				p.nc.Write(b[:k])
				b = b[k:]
			}
			synctest.Wait()
			s := streamOf(r.res.Body)
			p.c.mu.Lock()
			held := 0
			for _, ch := range s.buf.chunks {
				held += cap(ch)
			}
			p.c.mu.Unlock()
			if held > len(want)+32<<10 {
				t.Errorf("the stream's buffer holds %d bytes of chunks for %d bytes of body", held, len(want))
			}
			expectRest(t, p, r, want)
		})
	})
	t.Run("body closed between the pieces", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPeer(t, Config{StreamWindow: 16 << 10, ConnWindow: 65535})
			r, id := p.open()
			b := bytes.Clone(frame)
			b[8] = byte(id)
			p.nc.Write(b[:3000])
			synctest.Wait()
			r.res.Body.Close()
			if rst := p.expect(http2.FrameRSTStream); rst.StreamID != id || rst.code != http2.ErrCodeCancel {
				t.Errorf("RST_STREAM stream %d code %v, want %d CANCEL", rst.StreamID, rst.code, id)
			}
			p.nc.Write(b[3000:])
			// Four such frames pass half the connection window: its credit
			// counts every byte, the dropped ones too.
			for range 3 {
				p.nc.Write(b) // on a closed stream: dropped
			}
			fs := p.queued()
			if want := uint32(4 * (len(frame) - 9)); len(fs) != 1 || fs[0].StreamID != 0 || fs[0].inc != want {
				t.Errorf("client sent %+v, want one WINDOW_UPDATE of %d on the connection", fs, want)
			}
			expectInStep(t, p)
		})
	})
	t.Run("body closed while a large frame is read past the buffer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The rest of the frame still goes into chunks of its own, which
			// the reset stream gives back.
			body := make([]byte, 3*readBufferSize)
			p, r, frame := openFramed(t, Config{MaxFrameSize: 4 * readBufferSize}, body, 0)
			p.nc.Write(frame[:2*readBufferSize])
			synctest.Wait()
			r.res.Body.Close()
			p.expect(http2.FrameRSTStream)
			p.nc.Write(frame[2*readBufferSize:])
			synctest.Wait()
			if st := p.c.State(); st.Active != 0 {
				t.Errorf("Active = %d after the reset, want 0", st.Active)
			}
			expectInStep(t, p)
		})
	})
}

// expectInStep checks that the connection still reads frames where they
// begin: a new request gets its body.
func expectInStep(t *testing.T, p *peer) {
	t.Helper()
	r, _ := p.open()
	p.data(r.id, true, []byte("ok"))
	if got, err := io.ReadAll(r.res.Body); err != nil || string(got) != "ok" {
		t.Errorf("next body = %q, %v", got, err)
	}
}

// TestHeadWakesWithItsData: a response head and its whole body that come
// in one read are both in the stream when RoundTrip returns. The
// requester is woken once the frames at hand are handled
// (deliverHeadLocked), so reading the body never waits for the reader.
// Empty DATA frames between the head and the body give a requester woken
// with the head the time to see the body missing.
func TestHeadWakesWithItsData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t, Config{})
		for range 5 {
			r := p.start(get("/"))
			id := p.expect(http2.FrameHeaders).StreamID
			var b bytes.Buffer
			fr := http2.NewFramer(&b, nil)
			p.ebuf.Reset()
			p.enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			p.must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: p.ebuf.Bytes(), EndHeaders: true}))
			for b.Len() < readBufferSize-100 {
				p.must(fr.WriteData(id, false, nil))
			}
			p.must(fr.WriteData(id, true, []byte("whole")))
			p.nc.Write(b.Bytes())
			if r.wait(); r.err != nil {
				t.Fatal(r.err)
			}
			s := streamOf(r.res.Body)
			p.c.mu.Lock()
			size, ended := s.buf.size, s.remoteDone
			p.c.mu.Unlock()
			if size != len("whole") || !ended {
				t.Fatalf("when RoundTrip returned, the stream held %d body bytes (ended %v), want 5 and ended", size, ended)
			}
			expectRest(t, p, r, []byte("whole"))
		}
	})
}

// TestDataTakesReadBuffer: a DATA payload that fills half the read buffer or more, at its
// front, goes to a stream that holds nothing with the buffer's chunk instead of a copy; a stream
// that holds bytes gets a copy. The body is the same either way.
func TestDataTakesReadBuffer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first []byte // DATA sent, and left unread, before the large frame
		taken bool
	}{
		{"empty stream", nil, true},
		{"stream holding bytes", []byte("first"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				large := patterned(40000, 5)
				want := append(bytes.Clone(tc.first), large...)
				p := newPeer(t, Config{StreamWindow: 1 << 20, ConnWindow: 1 << 20, MaxFrameSize: 64 << 10})
				r, id := p.open("content-length", strconv.Itoa(len(want)))
				if tc.first != nil {
					p.nc.Write(paddedFrame(id, false, tc.first, 0))
					synctest.Wait()
				}
				var b bytes.Buffer
				fr := http2.NewFramer(&b, nil)
				fr.WriteData(id, true, large)
				p.nc.Write(b.Bytes())
				synctest.Wait()

				s := streamOf(r.res.Body)
				p.c.mu.Lock()
				ch := s.buf.chunks[len(s.buf.chunks)-1]
				taken := len(s.buf.chunks) == 1 && cap(ch) == bigChunk && s.buf.r == 9
				p.c.mu.Unlock()
				if taken != tc.taken {
					t.Errorf("payload taken with the read buffer's chunk: %v, want %v", taken, tc.taken)
				}
				expectRest(t, p, r, want)
			})
		})
	}
}

// TestDataSharesReadBuffer: 16 KiB DATA frames that came in one read stay in the read buffer, as
// views the stream's buffer keeps, up to maxViews of them, and the rest is copied; the body is
// whole, read or written out, and once it is, no view holds the block any more.
func TestDataSharesReadBuffer(t *testing.T) {
	for _, out := range []string{"Read", "WriteTo"} {
		t.Run(out, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const frames, size = maxViews + 1, 16 << 10
				want := patterned(frames*size, 3)
				p := newPeer(t, Config{StreamWindow: 1 << 20, ConnWindow: 1 << 20})
				r, id := p.open("content-length", strconv.Itoa(len(want)))
				var b bytes.Buffer
				fr := http2.NewFramer(&b, nil)
				for i := range frames {
					fr.WriteData(id, i == frames-1, want[i*size:(i+1)*size])
				}
				p.nc.Write(b.Bytes())
				synctest.Wait()

				s := streamOf(r.res.Body)
				p.c.mu.Lock()
				views, chunks := s.buf.views, len(s.buf.chunks)
				blk := s.buf.owners[0]
				p.c.mu.Unlock()
				// The last frame may come in two reads, and its rest then in a chunk of its own.
				if views != maxViews || chunks < frames {
					t.Errorf("the stream holds %d views in %d chunks, want %d in %d or more", views, chunks, maxViews, frames)
				}
				if blk == nil || blk.refs.Load() < 2 {
					t.Fatal("the first chunk is not a view of a block that the stream shares")
				}
				if out == "Read" {
					expectRest(t, p, r, want)
				} else {
					var got bytes.Buffer
					if _, err := writeTo(r.res.Body, &got); err != nil || !bytes.Equal(got.Bytes(), want) {
						t.Errorf("WriteTo: %d bytes, %v; want the %d of the body", got.Len(), err, len(want))
					}
				}
				if n := blk.refs.Load(); n > 1 {
					t.Errorf("the block has %d references after the body, want at most the read buffer's", n)
				}
				p.c.mu.Lock()
				views = s.buf.views
				p.c.mu.Unlock()
				if views != 0 {
					t.Errorf("the stream counts %d views after the body, want 0", views)
				}
			})
		})
	}
}

// TestDataViewsKeepBodies: the bodies of streams whose 16 KiB frames interleave, in reads that
// each bring several, are whole however their readers take them, while the reader fills fresh
// blocks past the views: every byte checked, with the bodies read during the second burst.
func TestDataViewsKeepBodies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const streams, frames, size = 6, 6, 16 << 10
		p := newPeer(t, Config{StreamWindow: 1 << 20, ConnWindow: 16 << 20})
		rs := make([]*rt, streams)
		ids := make([]uint32, streams)
		bodies := make([][]byte, streams)
		for i := range streams {
			bodies[i] = patterned(frames*size, byte(17*i))
			rs[i], ids[i] = p.open("content-length", strconv.Itoa(frames*size))
		}
		burst := func(from, to int) {
			var b bytes.Buffer
			fr := http2.NewFramer(&b, nil)
			for f := from; f < to; f++ {
				for i := range streams {
					fr.WriteData(ids[i], f == frames-1, bodies[i][f*size:(f+1)*size])
				}
			}
			p.nc.Write(b.Bytes())
		}
		burst(0, frames/2)
		synctest.Wait()
		got := make([][]byte, streams)
		done := make(chan struct{})
		for i := range streams {
			go func() {
				defer func() { done <- struct{}{} }()
				var b bytes.Buffer
				if i%2 == 0 {
					writeTo(rs[i].res.Body, &b)
				} else {
					io.Copy(&b, struct{ io.Reader }{rs[i].res.Body}) // Read, not WriteTo
				}
				got[i] = b.Bytes()
			}()
		}
		burst(frames/2, frames)
		for range streams {
			<-done
		}
		for i := range streams {
			if !bytes.Equal(got[i], bodies[i]) {
				t.Errorf("stream %d: %d bytes, not its body of %d", i, len(got[i]), len(bodies[i]))
			}
		}
	})
}
