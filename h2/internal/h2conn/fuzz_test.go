package h2conn

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fuzzSeeds are peer byte streams for the four streams FuzzPeerFrames
// opens (1: GET, 3: POST with a body, 5: GET, 7: an extended CONNECT):
// valid exchanges and the known attack shapes.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	build := func(write func(fr *http2.Framer, block func(kv ...string) []byte)) {
		var buf bytes.Buffer
		fr := http2.NewFramer(&buf, nil)
		fr.AllowIllegalWrites = true
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		block := func(kv ...string) []byte {
			hb.Reset()
			for i := 0; i < len(kv); i += 2 {
				enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
			}
			return bytes.Clone(hb.Bytes())
		}
		write(fr, block)
		seeds = append(seeds, buf.Bytes())
	}
	headers := func(fr *http2.Framer, id uint32, end bool, b []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b, EndStream: end, EndHeaders: true})
	}
	build(func(fr *http2.Framer, block func(...string) []byte) { // valid responses
		for _, id := range []uint32{1, 3, 5} {
			headers(fr, id, false, block(":status", "200", "content-type", "text/plain", "trailer", "x-t"))
			fr.WriteData(id, false, []byte("hello"))
			headers(fr, id, true, block("x-t", "v"))
		}
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // 1xx, refusals, GOAWAY
		headers(fr, 1, false, block(":status", "100"))
		headers(fr, 1, true, block(":status", "204"))
		fr.WriteRSTStream(3, http2.ErrCodeRefusedStream)
		fr.WriteGoAway(3, http2.ErrCodeNo, []byte("bye"))
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // settings and windows
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0},
			http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20},
			http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0},
			http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 0})
		fr.WriteWindowUpdate(3, 100)
		fr.WriteWindowUpdate(0, 1<<30)
		fr.WritePing(false, [8]byte{1})
		fr.WritePing(true, [8]byte{2})
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
		fr.WriteWindowUpdate(3, 1<<31-1)
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // CONTINUATION flood
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "200")})
		for i := 0; i < 50; i++ {
			fr.WriteContinuation(1, false, block("x-flood", strings.Repeat("f", 4000)))
		}
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // window overrun, bad frames
		headers(fr, 1, false, block(":status", "200", "content-length", "3"))
		fr.WriteData(1, false, make([]byte, 16000))
		fr.WriteData(1, true, make([]byte, 16000))
		fr.WriteDataPadded(5, false, []byte("x"), make([]byte, 200))
		fr.WriteRawFrame(http2.FrameType(0xee), 0, 1, []byte("unknown"))
		fr.WriteRawFrame(http2.FrameRSTStream, 0, 0, []byte{0, 0})
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // padded DATA
		headers(fr, 1, false, block(":status", "200", "content-length", "6"))
		fr.WriteDataPadded(1, false, []byte("abc"), []byte{}) // pad length 0
		fr.WriteDataPadded(1, false, nil, make([]byte, 255))  // pad length = payload length - 1
		fr.WriteDataPadded(1, true, []byte("def"), make([]byte, 9))
		headers(fr, 5, false, block(":status", "200"))
		// Frames longer than half the read buffer arrive in two pieces.
		fr.WriteDataPadded(5, false, make([]byte, 10000), make([]byte, 255))
		fr.WriteDataPadded(5, false, make([]byte, 6000), make([]byte, 127))
		fr.WriteDataPadded(5, true, make([]byte, 16000), make([]byte, 255)) // beyond the stream window
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // padded HEADERS with priority, and one padded past its payload
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":status", "200"), EndHeaders: true, PadLength: 9,
			Priority: http2.PriorityParam{StreamDep: 3, Weight: 15}})
		fr.WriteData(1, true, []byte("x"))
		fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersPadded, 3, []byte{5, 0x88})
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // pad length too long
		headers(fr, 1, false, block(":status", "200"))
		fr.WriteRawFrame(http2.FrameData, http2.FlagDataPadded, 1, []byte{2, 'x'})
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // no room for the pad length
		headers(fr, 1, false, block(":status", "200"))
		fr.WriteRawFrame(http2.FrameData, http2.FlagDataPadded, 1, nil)
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // DATA on stream 0
		fr.WriteRawFrame(http2.FrameData, 0, 0, []byte("x"))
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // malformed heads
		headers(fr, 1, false, block("x-no-status", "1"))
		headers(fr, 3, false, block(":status", "2000"))
		headers(fr, 5, true, block(":status", "200", ":path", "/"))
		fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: block(":method", "GET"), EndHeaders: true})
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // a tunnel the peer half-closes first
		headers(fr, 7, false, block(":status", "200"))
		fr.WriteData(7, false, []byte("pong"))
		fr.WriteData(7, true, nil)
		fr.WriteData(7, false, []byte("after END_STREAM"))
	})
	build(func(fr *http2.Framer, block func(...string) []byte) { // ENABLE_CONNECT_PROTOCOL withdrawn, out of range (RFC 8441 3)
		fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
		fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 0})
		fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 2})
	})
	seeds = append(seeds, []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), []byte{0, 0, 0, 4, 1, 0, 0, 0, 0})
	return seeds
}

// FuzzPeerFrames feeds arbitrary bytes from the peer, after a valid
// SETTINGS exchange that enables extended CONNECT, to a connection with four
// requests open (the third asking for its head as a list, the fourth an
// extended CONNECT whose body is longer than the peer's first DATA): the client
// must not panic or hang, and every RoundTrip and body read must return
// once the peer hangs up. The synctest bubble turns a hang into a
// deadlock failure.
func FuzzPeerFrames(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			// Frames up to 96 KiB fit the stream window but not the read
			// buffer (64 KiB): a frame may arrive in several pieces, a
			// piece of half the buffer or more goes to its stream with the
			// buffer's chunk, and the rest of a large one is read past the
			// buffer.
			p := newPeer(t, Config{StreamWindow: 96 << 10, ConnWindow: 192 << 10, MaxHeaderListSize: 8 << 10, MaxFrameSize: 96 << 10}, enableConnect)
			reqs := []*http.Request{
				get("/1"),
				mustRequest("POST", "http://example.com/3", strings.NewReader(strings.Repeat("b", 20000))),
				get("/5"),
				tunnelRequest("websocket", "https://example.com/7", io.NopCloser(strings.NewReader(strings.Repeat("t", 20000)))),
			}
			done := make(chan struct{}, len(reqs))
			for i, req := range reqs {
				start := p.start
				if i == 2 {
					start = p.startList // the gateway's way: the head as a list
				}
				r := start(req)
				p.expectSkipping(http2.FrameHeaders, http2.FrameData)
				go func() {
					defer func() { done <- struct{}{} }()
					r.wait()
					if r.err != nil {
						return
					}
					io.Copy(io.Discard, r.res.Body)
					r.res.Body.Close()
				}()
			}
			p.nc.Write(data) // fails once the client hangs up; that is fine
			p.nc.Close()
			for range reqs {
				<-done
			}
			<-p.c.Done()
			if st := p.c.State(); !st.Closed || st.Active != 0 {
				t.Errorf("after the peer hung up: State %+v, want closed with no stream", st)
			}
		})
	})
}

func mustRequest(method, url string, body io.Reader) *http.Request {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		panic(err)
	}
	return req
}
