//go:build unix

package integration

import (
	"net/http"
	"strings"
	"testing"

	"muxgate/internal/demo"
)

// TestForwarded: with Forwarded on, the upstream gets the client's own Forwarded elements, its
// empty values dropped, and then the gateway's, over each kind of upstream session.
func TestForwarded(t *testing.T) {
	for _, k := range engineKinds {
		t.Run(k.name, func(t *testing.T) {
			u := startUpstream(t, k, demo.Options{})
			cfg := testConfig(u)
			cfg.Pool.H2Engine = k.engine
			cfg.Forwarded = true
			f := startGateway(t, cfg)
			c := dialRaw(t, f.addr, false)
			c.send("GET /headers HTTP/1.1\r\nHost: a.test:8080\r\nForwarded: for=192.0.2.1\r\nForwarded: ,\r\n\r\n")
			resp, body := c.response("GET")
			var got []string
			for line := range strings.Lines(body) {
				if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && strings.EqualFold(k, "forwarded") {
					got = append(got, v)
				}
			}
			want := `for=192.0.2.1, for=127.0.0.1;host="a.test:8080";proto=http`
			if resp.StatusCode != http.StatusOK || strings.Join(got, ", ") != want {
				t.Errorf("the upstream saw Forwarded %q, want %q\n%s", got, want, body)
			}
		})
	}
}

// TestBinaryForwarded: -forwarded reaches the gateway.
func TestBinaryForwarded(t *testing.T) {
	u := startUpstream(t, upstreamKinds[0], demo.Options{})
	p := startBinary(t, "-upstream", u.url, "-listen", "127.0.0.1:0", "-access-log", "off", "-log-format", "json", "-forwarded")
	clear, _ := p.waitServing(1)
	resp, body := get(t, newClient(t), "http://"+clear[0]+"/headers")
	if want := "for=127.0.0.1;host=" + `"` + clear[0] + `"` + ";proto=http"; resp.StatusCode != http.StatusOK || headerLines(body)["forwarded"] != want {
		t.Errorf("the upstream saw %q, want Forwarded: %s", body, want)
	}
}
