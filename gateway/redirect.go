package gateway

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"muxgate/internal/pool"
)

// acmeChallenge is the path under which an ACME server fetches its http-01 challenge: always
// over clear-text HTTP on port 80 (RFC 8555 8.3), so it goes upstream rather than redirected.
const acmeChallenge = "/.well-known/acme-challenge/"

// redirects reports whether r, on a clear-text listener, is sent to HTTPS (Config.RedirectHTTPS).
func (p *proxy) redirects(r *http.Request) bool {
	return p.redirectPort != 0 && r.TLS == nil && !strings.HasPrefix(targetPath(r.RequestURI), acmeChallenge)
}

// redirect answers r with 308 Permanent Redirect to the same target over HTTPS: a 308 keeps the
// method and the content, where a 301 lets clients turn a POST into a GET (RFC 9110 15.4.9).
func (p *proxy) redirect(w http.ResponseWriter, r *http.Request) {
	rec := record{in: r, info: new(pool.Info), status: http.StatusPermanentRedirect}
	if p.timed {
		rec.start = time.Now()
	}
	const body = "This resource is served over HTTPS.\n"
	h := w.Header()
	h.Set("Location", httpsLocation(r, p.redirectPort))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	p.setResp.setHeader(h)
	w.WriteHeader(http.StatusPermanentRedirect)
	if r.Method != http.MethodHead {
		n, _ := w.Write([]byte(body))
		rec.bytesOut = int64(n)
	}
	p.done(&rec)
}

// httpsLocation is r's target over HTTPS on port: the host of its Host field (h1 has checked
// it), the port unless it is 443, then the path and query as the client sent them.
func httpsLocation(r *http.Request, port int) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	if port != 443 {
		host += ":" + strconv.Itoa(port)
	}
	target := r.RequestURI
	if len(target) == 0 || target[0] != '/' {
		// The absolute-form (RFC 9112 3.2.2): its path and query follow the authority.
		target = "/"
		if _, rest, ok := strings.Cut(r.RequestURI, "://"); ok {
			if i := strings.IndexAny(rest, "/?"); i >= 0 {
				target = rest[i:]
				if target[0] == '?' {
					target = "/" + target
				}
			}
		}
	}
	return "https://" + host + target
}
