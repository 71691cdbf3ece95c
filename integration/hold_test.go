//go:build unix

package integration

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"muxgate/internal/demo"
)

// pieceUpstream serves /pieces/N: N pieces of 4 KiB, each written and flushed on its own (so
// that each leaves in a frame of its own), each after the first once the test sends on step;
// then it ends the body once the test sends on step again. (The head goes with the first
// piece: muxgate passes a head on with the body's first bytes.) With a nil step it writes them
// back to back and ends at once.
func pieceUpstream(step <-chan struct{}) http.Handler {
	return demoWith("/pieces/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/pieces/"))
		piece := []byte(strings.Repeat("p", 4096))
		rc := http.NewResponseController(w)
		for i := range n {
			if step != nil && i > 0 {
				<-step
			}
			w.Write(piece)
			rc.Flush()
		}
		if step != nil {
			<-step
		}
	})
}

// readChunks reads a chunked response's head and the sizes of its chunks, up to the last.
func readChunks(t *testing.T, br *bufio.Reader) []int {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(resp.TransferEncoding) == 0 {
		t.Fatalf("got %s, transfer coding %v; want 200, chunked", resp.Status, resp.TransferEncoding)
	}
	// ReadResponse's body would undo the chunks: the raw reader is read instead.
	var sizes []int
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("chunk size: %v", err)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
		if err != nil {
			t.Fatalf("chunk size %q: %v", line, err)
		}
		if _, err := io.CopyN(io.Discard, br, size+2); err != nil {
			t.Fatalf("chunk of %d: %v", size, err)
		}
		if size == 0 {
			return sizes
		}
		sizes = append(sizes, int(size))
	}
}

// TestBodyHeldPieces: through the sessions whose bodies are read a piece at a time (HTTP/3,
// x/net's), 16 pieces of 4 KiB that come back to back, each in a frame of its own, leave in one
// chunk, a full 64 KiB buffer's, when they come within the hold. (Without one, each read's
// pieces leave as they come: how many a read finds is the session's doing.)
func TestBodyHeldPieces(t *testing.T) {
	for _, k := range engineKinds {
		if k.engine == "" && !k.h3 {
			continue // muxgate's own session hands its buffers to the client whole (copy.go)
		}
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{Handler: pieceUpstream(nil)})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			cfg.BodyHold = time.Second // longer than any pause of a loaded machine
			f := startGateway(t, cfg)
			c := dialRaw(t, f.addr, false)
			c.send("GET /pieces/16 HTTP/1.1\r\nHost: a\r\n\r\n")
			if got := fmt.Sprint(readChunks(t, c.br)); got != "[65536]" {
				t.Errorf("chunks %s, want [65536]", got)
			}
		})
	}
}

// TestBodyHeldPiecesGo: a body whose upstream waits between its pieces gets each to the client
// while it waits (within the hold), on every kind of session: the hold never waits for more.
func TestBodyHeldPiecesGo(t *testing.T) {
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			step := make(chan struct{})
			u := startUpstream(t, k, demo.Options{Handler: pieceUpstream(step)})
			t.Cleanup(func() { close(step) }) // before the upstream's shutdown, which waits for the handler
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			f := startGateway(t, cfg)
			c := newClient(t)
			resp, err := c.Get(f.url(false) + "/pieces/3")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			for i := range 3 {
				if i > 0 {
					step <- struct{}{}
				}
				if _, err := io.ReadFull(resp.Body, make([]byte, 4096)); err != nil {
					t.Fatalf("piece %d, the upstream waiting for the client to have it: %v", i, err)
				}
			}
			step <- struct{}{}
			if n, err := io.Copy(io.Discard, resp.Body); n != 0 || err != nil {
				t.Errorf("after the pieces: %d bytes, %v; want the end", n, err)
			}
		})
	}
}
