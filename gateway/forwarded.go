package gateway

import (
	"net"
	"net/http"
	"strings"
)

// forwardedElement is the element the gateway adds to the Forwarded field (RFC 7239 4) of a
// request from r's client: for= the client's address, host= the Host it asked for, proto= the
// scheme it used; "" where r's RemoteAddr is no address and port.
func forwardedElement(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("for=")
	if strings.Contains(ip, ":") {
		// An IPv6 address goes in brackets, and so as a quoted string (RFC 7239 6).
		b.WriteString(`"[` + ip + `]"`)
	} else {
		b.WriteString(ip)
	}
	if r.Host != "" {
		b.WriteString(";host=")
		writeTokenOrQuoted(&b, r.Host)
	}
	b.WriteString(";proto=")
	b.WriteString(proto(r)[0])
	return b.String()
}

// writeTokenOrQuoted writes v as a token, or as a quoted string where it is not one (a Host with
// a port has a colon), escaping " and \ (RFC 9110 5.6.4).
func writeTokenOrQuoted(b *strings.Builder, v string) {
	if isToken(v) {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// isToken reports whether v is a token (RFC 9110 5.6.2).
func isToken(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
