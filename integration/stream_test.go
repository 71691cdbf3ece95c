//go:build unix

package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"muxgate/internal/demo"
)

const (
	bigBody     = 10 << 20 // bytes sent and received by the streaming test
	memoryBound = 8 << 20  // largest growth of the gateway's resident memory that passes
	slowPiece   = 64 << 10 // the slow reader reads this much per tick
	slowTick    = 5 * time.Millisecond
)

// bodyByte is byte i of the streaming test's request body: not periodic over any length the
// gateway buffers, so a repeated or dropped piece shows.
func bodyByte(i int64) byte { return byte(i ^ i>>8 ^ i>>16 ^ i>>21) }

// genBody reads n bytes of bodyByte.
type genBody struct{ off, n int64 }

func (g *genBody) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.off)]
	for i := range p {
		p[i] = bodyByte(g.off + int64(i))
	}
	g.off += int64(len(p))
	return len(p), nil
}

// memSampler samples a process's resident set size until stopped, keeping the maximum.
type memSampler struct {
	pid  int
	stop chan struct{} // closed by the test to end sampling
	done chan struct{} // closed by the sampler when it has ended
	max  int64         // written by the sampler, read after done
	err  error         // written by the sampler, read after done
}

func sampleMemory(pid int) *memSampler {
	s := &memSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			rss, _, err := memStatus(pid)
			if err != nil {
				s.err = err
				return
			}
			s.max = max(s.max, rss)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *memSampler) finish() (int64, error) {
	close(s.stop)
	<-s.done
	return s.max, s.err
}

// TestStreamingMemory: the real binary streams a 10 MiB request body and a 10 MiB response to a
// slow reader byte for byte, and its resident memory grows far less than the bodies.
func TestStreamingMemory(t *testing.T) {
	for _, k := range upstreamKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			args := []string{"-upstream", u.url, "-listen", "127.0.0.1:0", "-access-log", "off", "-log-format", "json"}
			if k.tls {
				certFile, _ := writePEM(t)
				args = append(args, "-upstream-ca", certFile)
			}
			p := startBinary(t, args...)
			addrs, _ := p.waitServing(1)
			base := "http://" + addrs[0]
			pid := p.cmd.Process.Pid
			c := newClient(t)

			// Warm up: the upstream session, the buffers of one request and of one echo.
			for range 3 {
				if resp, body := get(t, c, base+"/bytes/100000"); resp.StatusCode != 200 || len(body) != 100000 {
					t.Fatalf("warm-up: %s, %d bytes", resp.Status, len(body))
				}
				echo(t, c, base, 256<<10)
			}
			rssBefore, hwmBefore, err := memStatus(pid)
			if err != nil {
				t.Fatal(err)
			}

			sampler := sampleMemory(pid)
			echo(t, c, base, bigBody)
			slowGet(t, c, base, bigBody)
			rssMax, err := sampler.finish()
			if err != nil {
				t.Fatal(err)
			}
			_, hwmAfter, err := memStatus(pid)
			if err != nil {
				t.Fatal(err)
			}

			growth := max(rssMax, hwmAfter) - rssBefore
			t.Logf("gateway memory (%s upstream): VmRSS before %.1f MiB, VmRSS max during %.1f MiB, VmHWM before %.1f MiB, after %.1f MiB; growth %.1f MiB for 2 x %d MiB streamed (bound %d MiB)",
				k.name, mib(rssBefore), mib(rssMax), mib(hwmBefore), mib(hwmAfter), mib(growth), bigBody>>20, memoryBound>>20)
			if growth >= memoryBound {
				t.Errorf("the gateway's resident memory grew by %.1f MiB while streaming, want under %d MiB", mib(growth), memoryBound>>20)
			}

			p.signal(syscall.SIGTERM)
			if code := p.wait(20 * time.Second); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0", code)
			}
		})
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// echo posts n bytes to /echo and checks that the same bytes come back.
func echo(t *testing.T, c *http.Client, base string, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/echo", &genBody{n: n})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST /echo of %d bytes: %v", n, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /echo of %d bytes: %s", n, resp.Status)
	}
	want := &genBody{n: n}
	got := make([]byte, 32<<10)
	exp := make([]byte, 32<<10)
	var off int64
	for {
		m, rerr := resp.Body.Read(got)
		if m > 0 {
			want.Read(exp[:m])
			if i := bytes.Compare(got[:m], exp[:m]); i != 0 {
				t.Fatalf("POST /echo of %d bytes: the echo differs in bytes %d to %d", n, off, off+int64(m))
			}
			off += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			t.Fatalf("POST /echo of %d bytes: reading the echo after %d bytes: %v", n, off, rerr)
		}
	}
	if off != n {
		t.Fatalf("POST /echo of %d bytes: %d bytes came back", n, off)
	}
}

// slowGet reads /bytes/n a piece per tick and checks every byte.
func slowGet(t *testing.T, c *http.Client, base string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/bytes/"+strconv.Itoa(n), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET /bytes/%d: %v", n, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(n) {
		t.Fatalf("GET /bytes/%d: %s, Content-Length %d", n, resp.Status, resp.ContentLength)
	}
	tick := time.NewTicker(slowTick)
	defer tick.Stop()
	buf := make([]byte, slowPiece)
	off := 0
	for off < n {
		<-tick.C
		m, err := io.ReadFull(resp.Body, buf[:min(slowPiece, n-off)])
		for i := range m {
			if buf[i] != demo.Pattern(off+i) {
				t.Fatalf("GET /bytes/%d: byte %d is %q, want %q", n, off+i, buf[i], demo.Pattern(off+i))
			}
		}
		off += m
		if err != nil {
			t.Fatalf("GET /bytes/%d: reading after %d bytes: %v", n, off, err)
		}
	}
	if extra, _ := io.Copy(io.Discard, resp.Body); extra != 0 {
		t.Fatalf("GET /bytes/%d: %d bytes more than announced", n, extra)
	}
}
