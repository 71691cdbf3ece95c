package gateway

import (
	"net"
	"net/http"
	"net/textproto"
	"strings"
)

// hopHeaders are the connection-specific fields a proxy must not forward (RFC 9110 7.6.1) and
// that HTTP/2 forbids (RFC 9113 8.2.2). Proxy-Connection is not standard but old clients send it.
var hopHeaders = []string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Transfer-Encoding",
	"Upgrade",
	"Te",
	"Trailer",
	"Http2-Settings",
}

// removeHopHeaders deletes the hop-by-hop fields and every field that Connection lists
// (RFC 9110 7.6.1). It returns whether the TE field allowed trailers, the one TE value that may
// cross into HTTP/2 (RFC 9113 8.2.2).
func removeHopHeaders(h http.Header) (teTrailers bool) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, v := range h["Te"] {
		for coding := range strings.SplitSeq(v, ",") {
			coding, _, _ = strings.Cut(coding, ";")
			if strings.EqualFold(textproto.TrimString(coding), "trailers") {
				teTrailers = true
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name)
	}
	return teTrailers
}

// forwarding says which forwarding fields the gateway adds to each request.
type forwarding struct {
	forwardedFor   bool
	forwardedProto bool
	via            bool
}

// viaReceived is the Via entry for a request received over HTTP/1.x (RFC 9110 7.6.3): the
// protocol version the gateway received, then its pseudonym.
func viaReceived(r *http.Request) string {
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		return "1.0 muxgate"
	}
	return "1.1 muxgate"
}

// viaResponse is the Via entry added to responses, which arrive over HTTP/2 or HTTP/3.
func viaResponse(resp *http.Response) string {
	if resp.ProtoMajor == 3 {
		return "3 muxgate"
	}
	return "2 muxgate"
}

// addForwarding sets X-Forwarded-For, X-Forwarded-Proto and Via on the outbound header h as f
// says, for the request in that arrived from the client.
func (f forwarding) add(h http.Header, in *http.Request) {
	if f.forwardedFor {
		if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
			if prior := h["X-Forwarded-For"]; len(prior) > 0 {
				ip = strings.Join(prior, ", ") + ", " + ip
			}
			h["X-Forwarded-For"] = []string{ip}
		}
	}
	if f.forwardedProto {
		proto := "http"
		if in.TLS != nil {
			proto = "https"
		}
		h["X-Forwarded-Proto"] = []string{proto}
	}
	if f.via {
		h["Via"] = append(h["Via"], viaReceived(in))
	}
}
