package h1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeepAliveReuseWithGoClient(t *testing.T) {
	s, addr := startServer(t, Config{}, text)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for i := range 3 {
		var reused bool
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/n", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "GET /n" || resp.StatusCode != 200 {
			t.Errorf("request %d: got %d %q, want 200 %q", i, resp.StatusCode, b, "GET /n")
		}
		if want := i > 0; reused != want {
			t.Errorf("request %d: got reused=%v, want %v", i, reused, want)
		}
	}
	if st := s.State(); st.Conns != 1 || st.Requests != 3 {
		t.Errorf("got state %+v, want 1 connection and 3 requests", st)
	}
}

func TestHTTP11PersistentByDefault(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "unframed by the handler")
	}))
	c := dial(t, addr)
	for i := range 2 {
		r := c.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if r.body != "unframed by the handler" || len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			t.Errorf("request %d: got body %q, TE %q; want the body, chunked", i, r.body, r.TransferEncoding)
		}
		if got := r.Header.Get("Connection"); got != "" || r.Close {
			t.Errorf("request %d: got Connection %q, want none", i, got)
		}
	}
}

func TestHTTP10(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/stream":
			io.WriteString(w, "streamed")
		case "/empty":
		}
	}))

	t.Run("without keep-alive", func(t *testing.T) {
		c := dial(t, addr)
		r := c.roundTrip("GET /stream HTTP/1.0\r\n\r\n")
		if r.body != "streamed" || r.ContentLength != -1 || r.TransferEncoding != nil || !r.Close {
			t.Errorf("got body %q, length %d, TE %q, close %v; want a close-delimited body",
				r.body, r.ContentLength, r.TransferEncoding, r.Close)
		}
		c.expectClosed()
	})
	t.Run("keep-alive with length", func(t *testing.T) {
		c := dial(t, addr)
		for i := range 2 {
			r := c.roundTrip("GET /length HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			if r.body != "hello" || r.Header.Get("Connection") != "keep-alive" {
				t.Errorf("request %d: got body %q, Connection %q; want hello, keep-alive", i, r.body, r.Header.Get("Connection"))
			}
		}
	})
	t.Run("keep-alive with empty body", func(t *testing.T) {
		c := dial(t, addr)
		for i := range 2 {
			r := c.roundTrip("GET /empty HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			if r.ContentLength != 0 || r.Header.Get("Connection") != "keep-alive" {
				t.Errorf("request %d: got length %d, Connection %q; want 0, keep-alive", i, r.ContentLength, r.Header.Get("Connection"))
			}
		}
	})
	t.Run("keep-alive without length", func(t *testing.T) {
		c := dial(t, addr)
		r := c.roundTrip("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if r.body != "streamed" || !r.Close || r.Header.Get("Connection") != "" || r.TransferEncoding != nil {
			t.Errorf("got body %q, close %v, Connection %q, TE %q; want close-delimited, Connection: close",
				r.body, r.Close, r.Header.Get("Connection"), r.TransferEncoding)
		}
		c.expectClosed()
	})
}

func TestConnectionClose(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/handler-closes" {
			w.Header().Set("Connection", "close")
		}
		if r.URL.Path == "/client-closes" && !r.Close {
			t.Errorf("got Request.Close false, want true")
		}
		io.WriteString(w, "ok")
	}))
	for _, req := range []string{
		"GET /client-closes HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET /handler-closes HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		c := dial(t, addr)
		r := c.roundTrip(req)
		if r.body != "ok" || !r.Close {
			t.Errorf("%q: got body %q, close %v; want ok, Connection: close", req, r.body, r.Close)
		}
		c.expectClosed()
	}
}

func TestMaxRequestsPerConn(t *testing.T) {
	_, addr := startServer(t, Config{MaxRequestsPerConn: 2}, text)
	c := dial(t, addr)
	if r := c.roundTrip("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"); r.Close {
		t.Errorf("first response: got Connection: close, want none")
	}
	if r := c.roundTrip("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"); !r.Close || r.body != "GET /2" {
		t.Errorf("last response: got close %v body %q, want Connection: close", r.Close, r.body)
	}
	c.expectClosed()
}

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	var running atomic.Int32
	alone := map[string]bool{} // written by the handlers of the requests with content, which run alone
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		if r.Method == http.MethodPost {
			alone[r.URL.Path] = n == 1
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	}))
	c := dial(t, addr)
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxy" +
		"POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n" +
		"HEAD /4 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /5 HTTP/1.1\r\nHost: a\r\n\r\n")
	for i, want := range []string{"GET /1 ", "POST /2 xy", "POST /3 z", "", "GET /5 "} {
		method := "GET"
		if i == 3 {
			method = "HEAD"
		}
		if r := c.read(method); r.body != want || r.StatusCode != 200 {
			t.Errorf("response %d: got %d %q, want 200 %q", i+1, r.StatusCode, r.body, want)
		}
	}
	if !alone["/2"] || !alone["/3"] {
		t.Errorf("got POSTs alone %v, want both to have run alone", alone)
	}
}

func TestRequestFields(t *testing.T) {
	got := make(chan *http.Request, 1)
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// h1 reuses the request once the handler returns: keep a copy.
		kept := *r
		u := *r.URL
		kept.URL = &u
		got <- &kept
	}))
	c := dial(t, addr)
	c.roundTrip("GET http://example.com/p?q=1 HTTP/1.1\r\nHost: example.com\r\nx-tag: a\r\nX-Tag: b\r\n\r\n")
	r := <-got
	switch {
	case r.Method != "GET", r.RequestURI != "http://example.com/p?q=1", r.URL.Scheme != "http",
		r.URL.Host != "example.com", r.URL.Path != "/p", r.URL.RawQuery != "q=1":
		t.Errorf("got %s %q URL %#v, want GET of the absolute URI", r.Method, r.RequestURI, r.URL)
	case r.Proto != "HTTP/1.1", r.ProtoMajor != 1, r.ProtoMinor != 1, r.Host != "example.com":
		t.Errorf("got %s %d.%d host %q, want HTTP/1.1 example.com", r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host)
	case strings.Join(r.Header["X-Tag"], ",") != "a,b", r.Body != http.NoBody, r.ContentLength != 0:
		t.Errorf("got X-Tag %q body %v length %d, want a,b and no body", r.Header["X-Tag"], r.Body, r.ContentLength)
	case r.RemoteAddr != c.conn.LocalAddr().String(), r.TLS != nil, r.Close:
		t.Errorf("got remote %q TLS %v close %v, want %q, nil, false", r.RemoteAddr, r.TLS, r.Close, c.conn.LocalAddr())
	case r.Context().Err() == nil:
		t.Errorf("got a live request context after the handler returned, want it cancelled")
	}
}

// TestRecycledRequests checks that a request served after another on the same connection, in
// the response h1 recycled (see recycle), carries nothing of the one before: no field, target,
// host or framing; and that a kept context stays valid, cancelled, once its handler returned.
func TestRecycledRequests(t *testing.T) {
	for _, listed := range []bool{false, true} {
		t.Run(fmt.Sprintf("listed=%v", listed), func(t *testing.T) {
			kept := make(chan context.Context, 4)
			_, addr := startServer(t, Config{ListFields: listed}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case kept <- r.Context():
				default:
				}
				fields := r.Header
				if list, ok := RequestFields(r); ok {
					fields = make(http.Header)
					for _, f := range list {
						fields.Add(f.Name, f.Value)
					}
				}
				fmt.Fprintf(w, "%s %s %s %d %v %v", r.Method, r.URL, r.Host, r.ContentLength, r.Close, fields)
			}))
			c := dial(t, addr)
			first := c.roundTrip("GET /a?q=1 HTTP/1.1\r\nHost: first\r\nX-One: 1\r\nCookie: secret\r\n\r\n")
			if want := "GET /a?q=1 first 0 false map[Cookie:[secret] Host:[first] X-One:[1]]"; first.body != want {
				t.Errorf("first: got %q, want %q", first.body, want)
			}
			ctx := <-kept
			for range 3 {
				c.roundTrip("HEAD /b HTTP/1.1\r\nHost: second\r\n\r\n")
				r := c.roundTrip("GET /b HTTP/1.1\r\nHost: second\r\n\r\n")
				if want := "GET /b second 0 false map[Host:[second]]"; r.body != want {
					t.Errorf("after another request: got %q, want %q", r.body, want)
				}
			}
			if ctx.Err() == nil {
				t.Errorf("a kept context: got Err nil, want it cancelled")
			}
			if v := ctx.Value("any"); v != nil {
				t.Errorf("a kept context: got Value %v for a key nobody set, want nil", v)
			}
		})
	}
}

func TestRequestBodies(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		declared := r.Trailer
		_, hadKey := declared["X-Sum"]
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		io.WriteString(w, string(b)+"|"+itoa(int(r.ContentLength))+"|"+strings.Join(r.TransferEncoding, ",")+
			"|"+r.Trailer.Get("X-Sum")+"|"+r.Trailer.Get("Host"))
		if r.TransferEncoding != nil && (!hadKey || declared["X-Sum"] != nil && len(declared["X-Sum"]) == 0) {
			t.Errorf("got Trailer %v before the body was read, want the declared key with no value", declared)
		}
	}))
	c := dial(t, addr)
	if r := c.roundTrip("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"); r.body != "hello world|11|||" {
		t.Errorf("length body: got %q, want %q", r.body, "hello world|11|||")
	}
	r := c.roundTrip("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
		"5;name=\"v a\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nHost: evil\r\n\r\n")
	if want := "hello world|-1|chunked|42|"; r.body != want {
		t.Errorf("chunked body: got %q, want %q", r.body, want)
	}
	// The connection is still in step after both bodies.
	if r := c.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.body != "|0|||" {
		t.Errorf("after bodies: got %q, want %q", r.body, "|0|||")
	}
}

func TestExpectContinue(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ignore" {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))

	t.Run("read", func(t *testing.T) {
		c := dial(t, addr)
		c.send("PUT /read HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
		if line := c.readLine(); line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("got %q, want the 100 Continue status line", line)
		}
		if line := c.readLine(); line != "\r\n" {
			t.Fatalf("got %q, want the end of the 100 response", line)
		}
		c.send("body")
		if r := c.read("PUT"); r.body != "body" || r.Close {
			t.Errorf("got %q close %v, want body echoed, connection kept", r.body, r.Close)
		}
	})
	t.Run("not read", func(t *testing.T) {
		c := dial(t, addr)
		c.send("PUT /ignore HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
		r := c.read("PUT")
		if r.StatusCode != http.StatusRequestEntityTooLarge || !r.Close {
			t.Errorf("got %d close %v, want 413 with Connection: close and no 100 Continue", r.StatusCode, r.Close)
		}
		c.expectClosed()
	})
	t.Run("Go client", func(t *testing.T) {
		tr := &http.Transport{ExpectContinueTimeout: time.Hour}
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "PUT", "http://"+addr+"/read", strings.NewReader("payload"))
		req.Header.Set("Expect", "100-continue")
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "payload" {
			t.Errorf("got %q, want payload (an hour-long continue timeout means the 100 came)", b)
		}
	})
}

func TestUnreadBody(t *testing.T) {
	_, addr := startServer(t, Config{}, text)
	c := dial(t, addr)
	r := c.roundTrip("POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789")
	if r.Close {
		t.Errorf("small unread body: got Connection: close, want the body discarded and the connection kept")
	}
	r = c.roundTrip("POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if r.Close || r.body != "POST /chunked" {
		t.Errorf("unread chunked body: got close %v body %q, want kept", r.Close, r.body)
	}
	if r := c.roundTrip("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"); r.body != "GET /next" {
		t.Errorf("after discarded bodies: got %q, want %q", r.body, "GET /next")
	}
	// Too much to discard: the response says close, and the client need not send the rest.
	c.send("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nstart")
	if r := c.read("POST"); !r.Close || r.body != "POST /big" {
		t.Errorf("big unread body: got close %v body %q, want Connection: close", r.Close, r.body)
	}
	c.expectClosed()
}

// TestCloseInterruptsBodyRead: a handler that reads the body on another goroutine (as a proxy
// does) and closes it once it has its answer must not wait for a client that stopped sending.
func TestCloseInterruptsBodyRead(t *testing.T) {
	readErr := make(chan error, 1)
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := make(chan struct{})
		go func() {
			buf := make([]byte, 64)
			n, _ := io.ReadFull(r.Body, buf[:5])
			close(started)
			for {
				m, err := r.Body.Read(buf)
				n += m
				if err != nil {
					readErr <- err
					return
				}
			}
		}()
		<-started
		r.Body.Close()
		io.WriteString(w, "answered early")
	}))
	c := dial(t, addr)
	c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nstart")
	r := c.read("POST")
	if r.body != "answered early" || !r.Close {
		t.Errorf("got body %q close %v, want %q with Connection: close", r.body, r.Close, "answered early")
	}
	if err := <-readErr; err == nil || err == io.EOF {
		t.Errorf("interrupted read: got %v, want an error", err)
	}
	c.expectClosed()
}

func TestResponsesWithoutBody(t *testing.T) {
	written := make(chan error, 1)
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/204":
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusNoContent)
			_, err := io.WriteString(w, "x")
			written <- err
		case "/304":
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusNotModified)
		}
	}))
	c := dial(t, addr)
	// Pipelined: a body byte sent by mistake would corrupt the next response.
	c.send("HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /204 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /304 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n")
	r := c.read("HEAD")
	if r.StatusCode != 200 || r.Header.Get("Content-Length") != "5" || r.body != "" {
		t.Errorf("HEAD: got %d, Content-Length %q, body %q; want 200, 5, none", r.StatusCode, r.Header.Get("Content-Length"), r.body)
	}
	r = c.read("GET")
	if r.StatusCode != 204 || r.Header.Get("Content-Length") != "" || r.Header.Get("Transfer-Encoding") != "" {
		t.Errorf("204: got %d, Content-Length %q, TE %q; want neither", r.StatusCode, r.Header.Get("Content-Length"), r.TransferEncoding)
	}
	if err := <-written; !errors.Is(err, http.ErrBodyNotAllowed) {
		t.Errorf("204: Write got %v, want http.ErrBodyNotAllowed", err)
	}
	r = c.read("GET")
	if r.StatusCode != 304 || r.Header.Get("Content-Length") != "5" || r.TransferEncoding != nil {
		t.Errorf("304: got %d, Content-Length %q, TE %q; want 5 kept, no TE", r.StatusCode, r.Header.Get("Content-Length"), r.TransferEncoding)
	}
	if r := c.read("HEAD"); r.StatusCode != 200 || r.Close {
		t.Errorf("HEAD after: got %d close %v, want 200 on a kept connection", r.StatusCode, r.Close)
	}
}

func TestChunkedResponseWithTrailers(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum, Content-Length")
		w.WriteHeader(200)
		io.WriteString(w, "part1,")
		io.WriteString(w, "part2")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		w.Header().Set(http.TrailerPrefix+"Host", "forbidden")
	}))
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "part1,part2" || resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Late") != "yes" {
		t.Errorf("got body %q trailers %v, want part1,part2 with X-Sum 42 and X-Late yes", b, resp.Trailer)
	}
	if _, ok := resp.Trailer["Host"]; ok {
		t.Errorf("got trailer Host, want forbidden trailers dropped")
	}

	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	var raw strings.Builder
	for line := ""; line != "0\r\n"; {
		line = c.readLine()
		raw.WriteString(line)
	}
	for line := c.readLine(); line != "\r\n"; line = c.readLine() {
		raw.WriteString(line)
	}
	got := raw.String()
	for _, want := range []string{"Transfer-Encoding: chunked\r\n", "6\r\npart1,\r\n5\r\npart2\r\n0\r\n", "X-Sum: 42\r\n", "X-Late: yes\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("got %q, want it to contain %q", got, want)
		}
	}
	if head, _, _ := strings.Cut(got, "\r\n\r\n"); strings.Contains(head, "X-Sum: 42") {
		t.Errorf("got header section %q, want X-Sum only as a trailer", head)
	}
}

func TestDeclaredTrailersOverrideLength(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4")
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("X-Sum", "early") // a declared trailer is not sent in the header section
		io.WriteString(w, "body")
		w.Header().Set(http.TrailerPrefix+"X-Sum", "dup")
		w.Header().Set("X-Sum", "7")
	}))
	c := dial(t, addr)
	r := c.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if r.body != "body" || r.ContentLength != -1 || len(r.TransferEncoding) != 1 {
		t.Errorf("got body %q, length %d, TE %q; want chunked framing", r.body, r.ContentLength, r.TransferEncoding)
	}
	if got := r.Trailer["X-Sum"]; len(got) != 1 || got[0] != "7" || r.Header.Get("X-Sum") != "" {
		t.Errorf("got trailer X-Sum %q and header X-Sum %q, want only the trailer 7", got, r.Header.Get("X-Sum"))
	}
	// HTTP/1.0 has no chunked coding: the length stands and the trailers are lost.
	r = c.roundTrip("GET / HTTP/1.0\r\n\r\n")
	if r.body != "body" || r.ContentLength != 4 {
		t.Errorf("HTTP/1.0: got body %q, length %d; want 4 bytes framed by length", r.body, r.ContentLength)
	}
}

func TestStatusLines(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := 0
		for _, c := range r.URL.Path[1:] {
			code = code*10 + int(c-'0')
		}
		w.WriteHeader(code)
	}))
	c := dial(t, addr)
	for code, want := range map[int]string{
		200: "HTTP/1.1 200 OK\r\n",
		404: "HTTP/1.1 404 Not Found\r\n",
		418: "HTTP/1.1 418 I'm a teapot\r\n",
		413: "HTTP/1.1 413 Content Too Large\r\n", // RFC 9110's names, not net/http's
		414: "HTTP/1.1 414 URI Too Long\r\n",
		416: "HTTP/1.1 416 Range Not Satisfiable\r\n",
		422: "HTTP/1.1 422 Unprocessable Content\r\n",
		299: "HTTP/1.1 299 Status\r\n",
		599: "HTTP/1.1 599 Status\r\n",
	} {
		c.send("GET /" + itoa(code) + " HTTP/1.1\r\nHost: a\r\n\r\n")
		if line := c.readLine(); line != want {
			t.Errorf("status %d: got %q, want %q", code, line, want)
		}
		for c.readLine() != "\r\n" {
		}
		for c.readLine() != "0\r\n" { // the empty chunked body
		}
		c.readLine()
	}
}

func TestDateHeader(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/own" {
			w.Header().Set("Date", "Thu, 01 Jan 1970 00:00:00 GMT")
		}
	}))
	c := dial(t, addr)
	r := c.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if d, err := http.ParseTime(r.Header.Get("Date")); err != nil || time.Since(d) > time.Hour || len(r.Header["Date"]) != 1 {
		t.Errorf("got Date %q (%v), want the current time, once", r.Header["Date"], err)
	}
	r = c.roundTrip("GET /own HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := r.Header["Date"]; len(got) != 1 || got[0] != "Thu, 01 Jan 1970 00:00:00 GMT" {
		t.Errorf("got Date %q, want the handler's", got)
	}
}

func TestInformationalResponses(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	var early []string
	for line := c.readLine(); line != "\r\n"; line = c.readLine() {
		early = append(early, line)
	}
	if len(early) != 2 || early[0] != "HTTP/1.1 103 Early Hints\r\n" || early[1] != "Link: </style.css>; rel=preload\r\n" {
		t.Errorf("got %q, want a 103 with the Link field", early)
	}
	if r := c.read("GET"); r.StatusCode != 200 || r.body != "final" || r.Header.Get("Link") != "" {
		t.Errorf("got %d %q Link %q, want 200 final without Link", r.StatusCode, r.body, r.Header.Get("Link"))
	}
	// No 1xx for HTTP/1.0 (RFC 9110 15.2).
	c = dial(t, addr)
	if line := (func() string { c.send("GET / HTTP/1.0\r\n\r\n"); return c.readLine() })(); line != "HTTP/1.1 200 OK\r\n" {
		t.Errorf("HTTP/1.0: got %q first, want the final status", line)
	}
}

func TestFlushSendsAtOnce(t *testing.T) {
	proceed := make(chan struct{})
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-proceed
		io.WriteString(w, "second")
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	for line := c.readLine(); line != "\r\n"; line = c.readLine() {
	}
	if got := c.readLine() + c.readLine(); got != "5\r\nfirst\r\n" {
		t.Errorf("got %q before the handler returned, want the flushed chunk", got)
	}
	close(proceed)
	if got := c.readLine() + c.readLine(); got != "6\r\nsecond\r\n" {
		t.Errorf("got %q, want the second chunk", got)
	}
}

func TestContentLengthEnforced(t *testing.T) {
	errs := make(chan error, 1)
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4")
		if r.URL.Path == "/short" {
			io.WriteString(w, "ab")
			return
		}
		io.WriteString(w, "abc")
		_, err := io.WriteString(w, "de")
		errs <- err
	}))
	c := dial(t, addr)
	c.send("GET /long HTTP/1.1\r\nHost: a\r\n\r\n")
	if err := <-errs; !errors.Is(err, http.ErrContentLength) {
		t.Errorf("write past Content-Length: got %v, want http.ErrContentLength", err)
	}
	c.conn.Close()

	c = dial(t, addr)
	c.send("GET /short HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); err != io.ErrUnexpectedEOF {
		t.Errorf("short body: got %q, %v; want io.ErrUnexpectedEOF from a closed connection", b, err)
	}
}

func TestHandlerPanic(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/before":
			panic("before writing")
		case "/buffered":
			w.Header().Set("X-Partial", "1")
			io.WriteString(w, "partial")
			panic("after buffering")
		case "/after":
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("after flushing")
		}
		io.WriteString(w, "fine")
	}))
	for _, path := range []string{"/before", "/buffered"} {
		c := dial(t, addr)
		r := c.roundTrip("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
		if r.StatusCode != 500 || !r.Close || r.Header.Get("X-Partial") != "" {
			t.Errorf("%s: got %d close %v X-Partial %q, want 500 with Connection: close and nothing of the handler's", path, r.StatusCode, r.Close, r.Header.Get("X-Partial"))
		}
		c.expectClosed()
	}

	c := dial(t, addr)
	c.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); resp.StatusCode != 200 || err != io.ErrUnexpectedEOF {
		t.Errorf("after flush: got %d %q, %v; want 200 cut short", resp.StatusCode, b, err)
	}

	// The server goes on.
	if r := dial(t, addr).roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.body != "fine" {
		t.Errorf("after panics: got %q, want fine", r.body)
	}
}

// TestContextCancelledWhenClientGoes: a client that closes while its handler runs cancels the
// request, once the watch sweep has started watching it, with or without a body.
func TestContextCancelledWhenClientGoes(t *testing.T) {
	for name, req := range map[string]string{
		"POST": "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
		"GET":  "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			started := make(chan struct{})
			cause := make(chan error, 1)
			_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.ReadAll(r.Body)
				close(started)
				select {
				case <-r.Context().Done():
					cause <- context.Cause(r.Context())
				case <-time.After(safetyNet):
					cause <- errors.New("context not cancelled")
				}
			}))
			c := dial(t, addr)
			c.send(req)
			<-started
			c.conn.Close()
			if err := <-cause; !errors.Is(err, errPeerGone) {
				t.Errorf("got cause %v, want %v", err, errPeerGone)
			}
		})
	}
}

// TestNoAnswerMadeUpForAClientThatWent: a client that half-closes its side while its handler
// runs is taken as gone (the watch cannot tell its FIN from a close): the request is cancelled,
// and a handler that then answers nothing leaves the connection closed without a response, not
// with an empty 200 that the client, still reading, would take for the answer.
func TestNoAnswerMadeUpForAClientThatWent(t *testing.T) {
	cancelled := make(chan struct{})
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(safetyNet):
		}
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.conn.(interface{ CloseWrite() error }).CloseWrite()
	<-cancelled
	c.expectClosed()
}

// TestMalformedChunkedBody: broken chunked framing is answered 400 and closes the connection.
// Framing that arrives with the head is refused before the handler runs; framing that arrives
// later fails the handler's read.
func TestMalformedChunkedBody(t *testing.T) {
	started := make(chan struct{}, 1)
	errs := make(chan error, 1)
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		_, err := io.ReadAll(r.Body)
		errs <- err
	}))
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, body := range []string{
		"zz\r\nhello\r\n0\r\n\r\n",
		"5\r\nhelloXX0\r\n\r\n",
		"10000000000000000\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"5;\x01\r\nhello\r\n0\r\n\r\n",
		"0\r\nBad Field\r\n\r\n",
	} {
		// With the head: refused before the handler.
		c := dial(t, addr)
		r := c.roundTrip(head + body)
		if r.StatusCode != 400 || !r.Close {
			t.Errorf("%q with the head: got %d close %v, want 400 with Connection: close", body, r.StatusCode, r.Close)
		}
		c.expectClosed()
		select {
		case <-started:
			t.Errorf("%q with the head: the handler ran, want it refused before", body)
			<-errs
		default:
		}

		// After the head: the handler's read fails.
		c = dial(t, addr)
		c.send(head)
		<-started
		r = c.roundTrip(body)
		if err := <-errs; !errors.Is(err, ErrMalformedBody) {
			t.Errorf("%q after the head: handler got %v, want ErrMalformedBody", body, err)
		}
		if r.StatusCode != 400 || !r.Close {
			t.Errorf("%q after the head: got %d close %v, want 400 with Connection: close", body, r.StatusCode, r.Close)
		}
		c.expectClosed()
	}
}

// TestMaxBodyBytes: content within MaxBodyBytes reaches the handler whole, over either framing; a
// Content-Length beyond it is refused with the head, before the handler and any 100 Continue; a
// chunked body that passes it fails the handler's read after exactly the limit's bytes, and is
// answered 413 with the connection closed.
func TestMaxBodyBytes(t *testing.T) {
	const limit = 10
	type result struct {
		n   int
		err error
	}
	results := make(chan result, 1)
	_, addr := startServer(t, Config{MaxBodyBytes: limit}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		results <- result{len(b), err}
		if err == nil {
			w.Write(b)
		}
	}))
	const post = "POST / HTTP/1.1\r\nHost: a\r\n"
	tenChunked := "4\r\nabcd\r\n6\r\nefghij\r\n"

	t.Run("within", func(t *testing.T) {
		c := dial(t, addr)
		for _, req := range []string{
			post + "Content-Length: 10\r\n\r\n0123456789",
			post + "Transfer-Encoding: chunked\r\n\r\n" + tenChunked + "0\r\n\r\n",
		} {
			r := c.roundTrip(req)
			if res := <-results; res.n != limit || res.err != nil {
				t.Errorf("handler read %d bytes with %v, want %d and nil", res.n, res.err, limit)
			}
			if r.StatusCode != 200 || r.Close || len(r.body) != limit {
				t.Errorf("got %d close %v body %q, want 200 with the body echoed, connection kept", r.StatusCode, r.Close, r.body)
			}
		}
	})
	t.Run("Content-Length beyond", func(t *testing.T) {
		c := dial(t, addr)
		c.send(post + "Expect: 100-continue\r\nContent-Length: 11\r\n\r\n")
		r := c.read("POST")
		if r.StatusCode != http.StatusRequestEntityTooLarge || !r.Close || r.body == "" {
			t.Errorf("got %d close %v body %q, want 413 with Connection: close and a text body, no 100 Continue",
				r.StatusCode, r.Close, r.body)
		}
		c.expectClosed()
		select {
		case res := <-results:
			t.Errorf("the handler ran and read %d bytes, want the request refused before it", res.n)
		default:
		}
	})
	t.Run("chunked beyond", func(t *testing.T) {
		c := dial(t, addr)
		c.send(post + "Transfer-Encoding: chunked\r\n\r\n" + tenChunked + "1\r\nk\r\n0\r\n\r\n")
		r := c.read("POST")
		if res := <-results; res.n != limit || !errors.Is(res.err, ErrBodyTooLarge) {
			t.Errorf("handler read %d bytes with %v, want %d and ErrBodyTooLarge", res.n, res.err, limit)
		}
		if r.StatusCode != http.StatusRequestEntityTooLarge || !r.Close {
			t.Errorf("got %d close %v, want 413 with Connection: close", r.StatusCode, r.Close)
		}
		c.expectClosed()
	})
	// Other connections are unaffected.
	if r := dial(t, addr).roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode != 200 {
		t.Errorf("after the refusals: got %d, want 200", r.StatusCode)
	}
}

// TestRefusals sends each malformed or oversized request on its own connection and checks the
// status, the Connection: close, the plain-text body, and that the connection is then closed.
func TestRefusals(t *testing.T) {
	_, addr := startServer(t, Config{MaxHeaderBytes: 1024, MaxHeaderCount: 10, MaxURIBytes: 256}, text)
	const host = "Host: a\r\n"
	tests := []struct {
		name string
		req  string
		code int
	}{
		{"too many fields", "GET / HTTP/1.1\r\n" + host + strings.Repeat("X: y\r\n", 10) + "\r\n", 431},
		{"header too large", "GET / HTTP/1.1\r\n" + host + "X: " + strings.Repeat("y", 1100) + "\r\n\r\n", 431},
		{"URI too long", "GET /" + strings.Repeat("u", 300) + " HTTP/1.1\r\n" + host + "\r\n", 414},
		{"request line too long in target", "GET /" + strings.Repeat("u", 2000), 414},
		{"malformed request line", "GET  / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", 505},
		{"HTTP/3.0", "GET / HTTP/3.0\r\n" + host + "\r\n", 505},
		{"CL and TE", "POST / HTTP/1.1\r\n" + host + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"CL values differ", "POST / HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"CL list differs", "POST / HTTP/1.1\r\n" + host + "Content-Length: 3, 4\r\n\r\nabcd", 400},
		{"CL signed", "POST / HTTP/1.1\r\n" + host + "Content-Length: +3\r\n\r\nabc", 400},
		{"CL empty", "POST / HTTP/1.1\r\n" + host + "Content-Length: \r\n\r\n", 400},
		{"TE unknown", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", 400},
		{"TE chunked not last", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"TE chunked twice", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"bare LF", "GET / HTTP/1.1\n" + host + "\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\n" + host + "X: a\r\n b\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\n" + host + "X: a\x00\r\n\r\n", 400},
		{"CR in value", "GET / HTTP/1.1\r\n" + host + "X: a\rb\r\n\r\n", 400},
		{"bad field name", "GET / HTTP/1.1\r\n" + host + "X@Y: a\r\n\r\n", 400},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\n" + host + host + "\r\n", 400},
		{"Host differs from target", "GET http://b/ HTTP/1.1\r\n" + host + "\r\n", 400},
		{"unknown expectation", "GET / HTTP/1.1\r\n" + host + "Expect: nothing\r\n\r\n", 417},
		{"CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501},
		{"CONNECT with tunnel bytes", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\nGET /smuggled HTTP/1.1\r\n" + host + "\r\n", 501},
		{"incomplete head", "GET / HTTP/1.1\r\nHost: a\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tt.req)
			if tt.name == "incomplete head" {
				c.conn.(interface{ CloseWrite() error }).CloseWrite()
			}
			r := c.read("GET")
			if r.StatusCode != tt.code || !r.Close || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" || r.body == "" {
				t.Errorf("got %d close %v type %q body %q, want %d with Connection: close and a text body",
					r.StatusCode, r.Close, r.Header.Get("Content-Type"), r.body, tt.code)
			}
			c.expectClosed()
		})
	}
	// Other connections are unaffected.
	if r := dial(t, addr).roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode != 200 {
		t.Errorf("after refusals: got %d, want 200", r.StatusCode)
	}
}

// TestOnRefusal: each request the server answers itself is reported once, before its answer,
// with what was read of its request line.
func TestOnRefusal(t *testing.T) {
	refusals := make(chan Refusal, 4)
	report := func(r Refusal) { refusals <- r }
	t.Run("heads", func(t *testing.T) {
		_, addr := startServer(t, Config{MaxHeaderBytes: 1024, MaxBodyBytes: 10, OnRefusal: report}, text)
		for _, tt := range []struct {
			req  string
			want Refusal
		}{
			{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("y", 1100) + "\r\n\r\n",
				Refusal{Status: 431, Reason: "request_header_too_large"}},
			{"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", Refusal{Status: 400, Reason: "malformed_request_line"}},
			{"GET /a HTTP/1.1\r\nHost : a\r\n\r\n",
				Refusal{Method: "GET", Target: "/a", Proto: "HTTP/1.1", Status: 400, Reason: "whitespace_before_colon_in_header_field"}},
			{"POST /up HTTP/1.0\r\nContent-Length: 11\r\n\r\n",
				Refusal{Method: "POST", Target: "/up", Proto: "HTTP/1.0", Status: 413, Reason: "request_body_too_large"}},
			{"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
				Refusal{Method: "CONNECT", Target: "a:443", Proto: "HTTP/1.1", Status: 501, Reason: "connect_not_supported"}},
		} {
			c := dial(t, addr)
			r := c.roundTrip(tt.req)
			got := <-refusals
			got.RemoteAddr = "" // the client's port
			if got != tt.want || r.StatusCode != tt.want.Status {
				t.Errorf("%q: reported %+v, answered %d; want %+v and that status", tt.req, got, r.StatusCode, tt.want)
			}
			c.expectClosed()
		}
	})
	t.Run("per IP", func(t *testing.T) {
		// One connection is served; the second from the same address is refused before its
		// request.
		_, addr := startServer(t, Config{MaxConnsPerIP: 1, OnRefusal: report}, text)
		c := dial(t, addr)
		if r := c.roundTrip("GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode != 200 {
			t.Fatalf("first connection: got %d, want 200", r.StatusCode)
		}
		if r := dial(t, addr).read("GET"); r.StatusCode != 503 {
			t.Errorf("second connection: got %d, want 503", r.StatusCode)
		}
		if got := <-refusals; got.Status != 503 || got.Reason != "too_many_connections_from_this_address" || got.Method != "" {
			t.Errorf("second connection: reported %+v, want 503 too_many_connections_from_this_address", got)
		}
	})
	select {
	case got := <-refusals:
		t.Errorf("a served request was reported too: %+v", got)
	default:
	}
}

func TestShutdownDrains(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	s, addr := startServer(t, Config{DrainGrace: -1}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done "+r.URL.Path)
	}))
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // runs before the server's cleanup, which waits for the handler
	idle := dial(t, addr)
	idle.roundTrip("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
	// Accepted before busy (one accept loop), and silent until Shutdown has begun.
	fresh := dial(t, addr)
	busy := dial(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	idle.expectClosed() // closed at once, while the busy connection still works
	if st := s.State(); st.Active != 1 {
		t.Errorf("during shutdown: got %+v, want the busy request active", st)
	}
	// A new connection's first request is answered, with Connection: close.
	fresh.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
	if r := fresh.read("GET"); r.body != "done /first" || !r.Close {
		t.Errorf("new connection: got %q close %v, want the response with Connection: close", r.body, r.Close)
	}
	fresh.expectClosed()
	unblock()
	r := busy.read("GET")
	if r.body != "done /slow" || !r.Close {
		t.Errorf("busy: got %q close %v, want the response with Connection: close", r.body, r.Close)
	}
	busy.expectClosed()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: got %v, want nil", err)
	}
	if st := s.State(); st.Conns != 0 {
		t.Errorf("after Shutdown: got %+v, want no connections", st)
	}
}

func TestShutdownDeadline(t *testing.T) {
	entered := make(chan struct{})
	s, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // released by the hard close
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != context.Canceled {
		t.Errorf("Shutdown: got %v, want context.Canceled", err)
	}
	c.expectClosed()
}

func TestServeSeveralListenersAndAfterClose(t *testing.T) {
	s, addr1 := startServer(t, Config{}, text)
	ln2, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln2) }()
	for _, addr := range []string{addr1, ln2.Addr().String()} {
		if r := dial(t, addr).roundTrip("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"); r.body != "GET /x" {
			t.Errorf("%s: got %q, want GET /x", addr, r.body)
		}
	}
	s.Close()
	if err := <-served; err != http.ErrServerClosed {
		t.Errorf("second Serve: got %v, want http.ErrServerClosed", err)
	}
	ln3, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln3); err != http.ErrServerClosed {
		t.Errorf("Serve after Close: got %v, want http.ErrServerClosed", err)
	}
}

func TestNewDefaults(t *testing.T) {
	s := New(Config{MaxHeaderBytes: 2 << 20, MaxURIBytes: 4 << 20, MaxRequestsPerConn: -1}, nil)
	want := Config{HeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second, MaxConns: 10000,
		MaxHeaderBytes: 1 << 20, MaxHeaderCount: 100, MaxURIBytes: 1 << 20}
	got := s.cfg
	got.Logger = want.Logger
	if got.HeaderTimeout != want.HeaderTimeout || got.IdleTimeout != want.IdleTimeout || got.MaxConns != want.MaxConns ||
		got.MaxHeaderBytes != want.MaxHeaderBytes || got.MaxHeaderCount != want.MaxHeaderCount ||
		got.MaxURIBytes != want.MaxURIBytes || got.MaxRequestsPerConn != want.MaxRequestsPerConn {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if cap(s.slots) != 10000 {
		t.Errorf("got %d slots, want 10000", cap(s.slots))
	}
}

// TestRefusalWithUnreadData refuses a head while much more of it is on its way: the answer comes
// without waiting for the rest, and reaches the client although it is still sending. (Over
// loopback a reset cannot overtake a response already delivered, so this cannot tell whether the
// lingering close did its part; on a real network it is what keeps the answer from being lost.)
func TestRefusalWithUnreadData(t *testing.T) {
	_, addr := startServer(t, Config{MaxHeaderBytes: 1024}, text)
	for i := range 3 {
		c := dial(t, addr)
		io.WriteString(c.conn, "GET / HTTP/1.1\r\nHost: a\r\nX: "+strings.Repeat("y", 200<<10)) // may fail once refused
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatalf("round %d: got %v, want the 431 response", i, err)
		}
		if resp.StatusCode != 431 || !resp.Close {
			t.Errorf("round %d: got %d close %v, want 431 with Connection: close", i, resp.StatusCode, resp.Close)
		}
	}
}

// TestConcurrentClients runs many clients at once, some reading the request body on another
// goroutine while the handler writes, for the race detector.
func TestConcurrentClients(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(r.Body)
			got <- b
		}()
		w.Header().Set("X-Path", r.URL.Path)
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		w.Write(<-got)
	}))
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 25 {
				want := strings.Repeat(itoa(g), i*100)
				req, _ := http.NewRequest("POST", "http://"+addr+"/p", strings.NewReader(want))
				if i%2 == 1 {
					req.ContentLength = -1 // chunked
					req.Body = io.NopCloser(strings.NewReader(want))
				}
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != want {
					errs <- errors.New("got " + itoa(len(b)) + " bytes back, want " + itoa(len(want)))
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A body write larger than the write buffer, made while the head is still buffered, leaves with
// the head in one writev: the bytes must arrive whole and in order, with either framing, on a
// kept-alive connection.
func TestLargeWritesAfterBufferedHead(t *testing.T) {
	body := make([]byte, 3*bufferSize+123)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", strconv.Itoa(2*len(body)))
		}
		w.Write(body) // with the head still in the buffer
		w.Write(body) // with the buffer empty
	}))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	for _, path := range []string{"/length", "/chunked", "/length"} {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, append(body[:len(body):len(body)], body...)) {
			t.Errorf("%s: got %d bytes (err %v), want %d", path, len(got), err, 2*len(body))
		}
		chunked := len(resp.TransferEncoding) > 0
		if want := path == "/chunked"; chunked != want {
			t.Errorf("%s: chunked is %v, want %v", path, chunked, want)
		}
	}
}

// AdoptHeader hands w a map to send, but only while w's own is empty and nothing was written.
func TestAdoptHeader(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/adopt":
			if !AdoptHeader(w, http.Header{"X-Up": {"1"}}) {
				t.Error("AdoptHeader refused a fresh response")
			}
			w.Header().Set("X-Own", "2")
		case "/set-first":
			w.Header().Set("X-Own", "2")
			if AdoptHeader(w, http.Header{"X-Up": {"1"}}) {
				t.Error("AdoptHeader replaced fields already set")
			}
		case "/written":
			w.WriteHeader(http.StatusOK)
			if AdoptHeader(w, http.Header{"X-Up": {"1"}}) {
				t.Error("AdoptHeader took a map after the head was written")
			}
		}
		if AdoptHeader(httptest.NewRecorder(), http.Header{}) {
			t.Error("AdoptHeader took another package's ResponseWriter")
		}
	}))
	for path, want := range map[string][2]string{"/adopt": {"1", "2"}, "/set-first": {"", "2"}, "/written": {"", ""}} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := [2]string{resp.Header.Get("X-Up"), resp.Header.Get("X-Own")}; got != want {
			t.Errorf("%s: got X-Up, X-Own %q, want %q", path, got, want)
		}
	}
}

// TestAddrString: addrString formats each kind of address as its String method does.
func TestAddrString(t *testing.T) {
	for _, a := range []net.Addr{
		&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1).To4(), Port: 45678},
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, // 16-byte form, as from an IPv6 socket
		&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 8080, Zone: "eth0"},
		&net.TCPAddr{IP: net.ParseIP("::ffff:0:1"), Port: 1},
		&net.TCPAddr{Port: 9},
		&net.UnixAddr{Name: "/run/muxgate.sock", Net: "unix"},
	} {
		if got, want := addrString(a), a.String(); got != want {
			t.Errorf("addrString(%#v) = %q, want %q", a, got, want)
		}
	}
}

// TestLocalAddrInContext: a request's context carries the connection's local address under
// http.LocalAddrContextKey, as net/http's, also through a context derived from it.
func TestLocalAddrInContext(t *testing.T) {
	_, addr := startServer(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		derived, cancel := context.WithCancel(r.Context())
		defer cancel()
		a, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		b, _ := derived.Value(http.LocalAddrContextKey).(net.Addr)
		if a == nil || b == nil {
			io.WriteString(w, "missing")
			return
		}
		io.WriteString(w, a.String()+" "+b.String())
	}))
	if r := dial(t, addr).roundTrip(getRoot); r.body != addr+" "+addr {
		t.Errorf("got %q, want the listener's address %s twice", r.body, addr)
	}
}
