// Package tunneltest holds what the tests of the sessions share about extended CONNECT (RFC 8441
// for HTTP/2, RFC 9220 for HTTP/3): a request by the sessions' convention, and an upstream handler
// that echoes a tunnel.
package tunneltest

import (
	"context"
	"io"
	"net/http"
)

// Request is an extended CONNECT for protocol to target on ctx, by the sessions' convention (see
// pool.ConnectProtocol): Proto carries the protocol, and body, of unknown length, is its body.
func Request(ctx context.Context, protocol, target string, body io.ReadCloser) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, target, nil)
	if err != nil {
		return nil, err
	}
	req.Proto = protocol
	req.Body, req.ContentLength = body, -1
	return req, nil
}

// Protocol is the protocol of an extended CONNECT as a server gives it to its handler: x/net's as
// the ":protocol" field of r.Header (Proto is "HTTP/2.0"), quic-go's as r.Proto. It is "" for any
// other request.
func Protocol(r *http.Request) string {
	if r.Method != http.MethodConnect {
		return ""
	}
	if p := r.Header.Get(":protocol"); p != "" {
		return p
	}
	if r.Proto != "HTTP/3.0" && r.Proto != "HTTP/2.0" {
		return r.Proto
	}
	return ""
}

// Echo is a handler for an extended CONNECT of protocol: it answers 200 at once, with the fields
// set in w.Header() before it, and then writes back every byte of the request body as it comes,
// flushed, until its end. Any other request gets 400.
func Echo(protocol string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if Protocol(r) != protocol {
			http.Error(w, "want an extended CONNECT for "+protocol, http.StatusBadRequest)
			return
		}
		rc := http.NewResponseController(w)
		w.WriteHeader(http.StatusOK)
		rc.Flush()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				rc.Flush()
			}
			if err != nil {
				return
			}
		}
	}
}
