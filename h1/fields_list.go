package h1

import (
	"net/http"

	"muxgate/internal/fieldlist"
)

// RequestFields returns the header fields of r, a request that a Server with Config.ListFields
// read, as the client sent them and in that order: each name a token in the client's letter case,
// each value valid, without the whitespace around it (RFC 9112 5). ok is false for any other
// request, and for one whose context no longer derives from the one the Server gave it, which
// leads back to the list. The list is the handler's to change: the Server reads it before the
// handler starts and never after. Like the rest of the request, it is the handler's only until it
// returns: the Server then reuses its memory.
func RequestFields(r *http.Request) (fields []fieldlist.Field, ok bool) {
	w, ok := r.Context().Value(listedKey).(*response)
	if !ok {
		return nil, false
	}
	return w.head.fields, true
}

// listedKey is the key under which a request's context (reqContext) gives the response of a
// listed head: a pointer, which Value compares as two words (see pool's infoKey).
var listedKey = new(struct{ _ byte })
