package h1

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// hostGrammar is uri-host [ ":" port ] transcribed from the ABNF of RFC 3986 3.2.2 and 3.2.3
// (with IPv6address from its appendix A), without IPvFuture, which validHost refuses on purpose.
// It is the slow, independent reading that validHost is checked against.
var hostGrammar = func() *regexp.Regexp {
	const (
		h16   = `[0-9A-Fa-f]{1,4}`
		dec   = `(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])`
		ipv4  = dec + `\.` + dec + `\.` + dec + `\.` + dec
		ls32  = `(?:` + h16 + `:` + h16 + `|` + ipv4 + `)`
		pre   = `(?:` + h16 + `:)`
		ipv6  = `(?:` + pre + `{6}` + ls32 + `|::` + pre + `{5}` + ls32 + `|(?:` + h16 + `)?::` + pre + `{4}` + ls32 + `|(?:` + pre + `{0,1}` + h16 + `)?::` + pre + `{3}` + ls32 + `|(?:` + pre + `{0,2}` + h16 + `)?::` + pre + `{2}` + ls32 + `|(?:` + pre + `{0,3}` + h16 + `)?::` + h16 + `:` + ls32 + `|(?:` + pre + `{0,4}` + h16 + `)?::` + ls32 + `|(?:` + pre + `{0,5}` + h16 + `)?::` + h16 + `|(?:` + pre + `{0,6}` + h16 + `)?::)`
		reg   = `(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*`
		host  = `(?:\[` + ipv6 + `\]|` + reg + `)`
		port  = `[0-9]*`
		whole = `^(` + host + `)(?::(` + port + `))?$`
	)
	return regexp.MustCompile(whole)
}()

// hostReference is validHost's contract read plainly: s matches hostGrammar, its port (if any) is
// at most 65535, and its host is empty only when there is no port.
func hostReference(s string) bool {
	m := hostGrammar.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	if !strings.Contains(s[len(m[1]):], ":") {
		return true
	}
	port := strings.TrimLeft(m[2], "0")
	n, err := strconv.Atoi(port)
	return m[1] != "" && (port == "" || err == nil && len(port) <= 5 && n <= 65535)
}

func TestValidHost(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"example.com", true},
		{"EXAMPLE.com:8080", true},
		{"127.0.0.1:80", true},
		{"a", true},
		{"", true}, // no authority: checkOriginHost decides
		{"a:", true},
		{"a:0", true},
		{"a:65535", true},
		{"a:00080", true},
		{"[::1]", true},
		{"[::1]:8443", true},
		{"[::1]:", true},
		{"[2001:DB8::a:1]", true},
		{"[::ffff:192.0.2.1]", true},
		{"[1:2:3:4:5:6:7::]", true},
		{"a%41b", true},
		{"a!$&'()*+,;=b", true},
		{"999.1.1.1", true}, // a reg-name, if not an IPv4address

		{"[::1", false},
		{"::1", false},
		{"::1:80", false},
		{"a:80:80", false},
		{"a:+80", false},
		{"a:-1", false},
		{"a: 80", false},
		{"a:65536", false},
		{"a:99999999999999999999", false},
		{":80", false},
		{":", false},
		{"[]", false},
		{"[::1]x", false},
		{"[::1]:80:80", false},
		{"[::1]]", false},
		{"[[::1]]", false},
		{"[1.2.3.4]", false},
		{"[fe80::1%25en0]", false},
		{"[fe80::1%en0]", false},
		{"[v1.x]", false},
		{"[::1:2:3:4:5:6:7:8]", false},
		{"[1::2::3]", false},
		{"[::ffff:01.2.3.4]", false},
		{"[12345::]", false},
		{"a%zz", false},
		{"a%4", false},
		{"a%", false},
		{"a b", false},
		{"a/b", false},
		{"u@a", false},
		{"a]", false},
		{"a[", false},
		{"a\x00", false},
		{"caf\xc3\xa9", false},
	}
	for _, tt := range tests {
		if got := validHost(tt.in); got != tt.want {
			t.Errorf("validHost(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if got := hostReference(tt.in); got != tt.want {
			t.Errorf("hostReference(%q) = %v, want %v: the reference disagrees with the table", tt.in, got, tt.want)
		}
	}
}

func TestValidAuthority(t *testing.T) {
	for in, want := range map[string]bool{
		"a:443":      true,
		"[::1]:443":  true,
		"a":          false,
		"a:":         false,
		"[::1]":      false,
		"[::1]:":     false,
		":443":       false,
		"a:443:1":    false,
		"a:65536":    false,
		"[::1:443":   false,
		"a%zz:443":   false,
		"1.2.3.4:80": true,
	} {
		if got := validAuthority(in); got != want {
			t.Errorf("validAuthority(%q) = %v, want %v", in, got, want)
		}
	}
}
