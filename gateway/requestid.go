package gateway

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"

	"muxgate/internal/fieldlist"
)

// A request ID names one request across the logs of muxgate and its upstream: with
// Config.RequestIDHeader set, every request goes upstream with that field set to a fresh ID,
// which muxgate's access log gives as request_id. A value the client sent in that field is
// replaced: at the edge it is the client's word, which could collide with another request's on
// purpose. The ID is 128 random bits in 32 hexadecimal digits, from the runtime's per-thread
// generator: no lock, and no two alike in practice.

// newRequestID returns a fresh request ID.
func newRequestID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], rand.Uint64())
	binary.BigEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// checkRequestIDHeader says why name cannot carry request IDs, or nil: it must be a field name
// (a token, RFC 9110 5.1), and none that framing, routing or the hop-by-hop rules own.
func checkRequestIDHeader(name string) error {
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("%w: request ID header %q is no field name", ErrConfig, name)
	}
	switch lower := strings.ToLower(name); {
	case hopName(lower), lower == "host", lower == "content-length", lower == "x-forwarded-for",
		lower == "x-forwarded-proto", lower == "via":
		return fmt.Errorf("%w: request ID header %q is a field muxgate sets or removes itself", ErrConfig, name)
	}
	return nil
}

// requestIDOf returns the request ID that list, a request's outbound fields, carries in the field
// name (lower case), or "".
func requestIDOf(list []fieldlist.Field, name string) string {
	for i := len(list) - 1; i >= 0; i-- { // the gateway's own fields come last
		if fieldlist.SameName(list[i].Name, name) {
			return list[i].Value
		}
	}
	return ""
}

// setRequestID sets a fresh request ID in the field name (canonical form) of the outbound header
// h, in place of any the client sent.
func setRequestID(h http.Header, name string) {
	h[name] = []string{newRequestID()}
}
