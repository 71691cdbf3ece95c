// Package demo is a small HTTP/2 upstream, or HTTP/3 with Options.HTTP3: the one `muxgate -demo`
// embeds, and the one the integration tests and the benchmark put behind the gateway. It counts
// the connections it accepts (TCP or QUIC), so a test can check how many sessions the gateway
// opened, and the requests it serves (in all, at once, and the most at once), so a test can
// check what reached it. GoAway drains its HTTP/2 or HTTP/3 connections as a redeployed upstream
// would.
package demo

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Handler serves the demo routes:
//
//	/                 a short greeting
//	/bytes/N          N bytes of a repeating pattern (see Pattern), with Content-Length
//	/stream/N         the same N bytes without Content-Length, flushed in 16 KiB pieces
//	/echo             the request body back, streamed as it arrives
//	/headers          the request's method, authority and header fields as text, sorted
//	/status/N         status N with an empty body
//	/trailers         a body, then the trailer X-Checksum: done
//	/path/...         the request path back, for pipelining checks
//	/websocket        a WebSocket echo, over an extended CONNECT (see webSocketEcho)
//	/events           an event stream (text/event-stream): an event "tick N" a second, N on
//	                  from the Last-Event-ID the client sent, until the client leaves
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from the muxgate demo upstream\n")
	})
	mux.HandleFunc("/bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, ok := size(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		writePattern(w, n, false)
	})
	mux.HandleFunc("/stream/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, ok := size(w, r)
		if !ok {
			return
		}
		writePattern(w, n, true)
	})
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/websocket", webSocketEcho)
	mux.HandleFunc("/headers", headers)
	mux.HandleFunc("/events", events)
	mux.HandleFunc("/status/{n}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || code < 200 || code > 599 {
			http.Error(w, "bad status", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body before trailers\n")
		w.Header().Set("X-Checksum", "done")
	})
	mux.HandleFunc("/path/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, r.URL.Path)
	})
	return mux
}

// Pattern is the byte at offset i of every /bytes and /stream body.
func Pattern(i int) byte { return byte('a' + i%26) }

const maxSize = 1 << 30

func size(w http.ResponseWriter, r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n > maxSize {
		http.Error(w, "size must be 0 to 1 GiB", http.StatusBadRequest)
		return 0, false
	}
	return n, true
}

// Pieces of a body, one Write each. A /bytes body goes out as a handler that has it in memory
// would write it, in large pieces, and the server cuts its DATA frames as the client's
// SETTINGS_MAX_FRAME_SIZE allows; a /stream body is flushed every 16 KiB.
const (
	bytesPiece  = 64 << 10
	streamPiece = 16 << 10
)

// patternBlock holds the largest piece of the pattern plus one period more, so that a piece
// starting at any offset is a slice of it. Built once; never written after.
var patternBlock = func() []byte {
	b := make([]byte, bytesPiece+26)
	for i := range b {
		b[i] = Pattern(i)
	}
	return b
}()

func writePattern(w http.ResponseWriter, n int, flush bool) {
	piece := bytesPiece
	if flush {
		piece = streamPiece
	}
	for off := 0; off < n; {
		start := off % 26
		m := min(piece, n-off)
		if _, err := w.Write(patternBlock[start : start+m]); err != nil {
			return
		}
		off += m
		if flush {
			http.NewResponseController(w).Flush()
		}
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if r.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	// Full duplex: HTTP/2 allows answering while the request body still arrives.
	http.NewResponseController(w).EnableFullDuplex()
	io.Copy(w, r.Body)
}

func headers(w http.ResponseWriter, r *http.Request) {
	lines := make([]string, 0, len(r.Header)+2)
	for k, vv := range r.Header {
		lines = append(lines, k+": "+strings.Join(vv, ", "))
	}
	sort.Strings(lines)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "method: %s\nauthority: %s\nproto: %s\n%s\n", r.Method, r.Host, r.Proto, strings.Join(lines, "\n"))
}

// eventInterval is the time between two events of /events.
const eventInterval = time.Second

// events serves /events: an event a second, numbered on from the client's Last-Event-ID, so that
// an EventSource that connects again goes on where it was.
func events(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	f, _ := w.(http.Flusher)
	tick := time.NewTicker(eventInterval)
	defer tick.Stop()
	for {
		n++
		if _, err := fmt.Fprintf(w, "id: %d\ndata: tick %d\n\n", n, n); err != nil {
			return
		}
		if f != nil {
			f.Flush()
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
}
