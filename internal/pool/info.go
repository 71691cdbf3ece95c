package pool

import (
	"context"
	"errors"
	"net/http"
	"net/textproto"

	"muxgate/internal/fieldlist"
)

// Info describes how the pool carried one request. A caller that wants it
// puts a zeroed *Info in the request's context with WithInfo (or uses an
// InfoContext) before RoundTrip and reads it after RoundTrip returns; the
// pool and the session write it only on the goroutine that called
// RoundTrip, before it returns.
type Info struct {
	SessionID uint64 // the session of the last attempt; 0 if none was reached
	StreamID  uint64 // the stream of the last attempt; 0 if the session cannot tell
	Protocol  string // Config.Protocol, such as "h2" or "h3"
	Attempts  int    // attempts made: 1, or more when a request was retried (a retry that got no stream too)
	// Resent says that one of the retries counted in Attempts followed an attempt the upstream
	// may have processed (ErrMaybeProcessed); the others followed attempts it did not process.
	Resent bool
	// Upstream, set by a caller that spreads requests over several pools, says which one carried
	// the request, numbered from 1 as the caller counts them (0: not set), for its log. The
	// pools leave it alone. (A number, not a name: it fits beside Resent, where a string would
	// grow every request's Info by 16 bytes.)
	Upstream uint16

	// List, set by the caller, asks for the response head as a list, for a caller that writes
	// it out again as it came: a session that can (HTTP/2, EngineOwn) returns a Response whose
	// Header is nil and puts the head's fields in List.Fields. Other sessions fill Header as
	// usual and leave List alone.
	List *HeadList

	// Request, set by the caller of a request whose Header is nil, holds the request's header
	// fields as a list, in the order to send them, names in any letter case: for a caller that
	// has them as a list, as a proxy does. A RequestListSession (HTTP/2, EngineOwn) sends them
	// as they are; any other session gets a copy of the request with a Header made of them.
	Request []fieldlist.Field

	// Interim, set by the caller, gets the request's informational (1xx) responses as they
	// come, before RoundTrip returns: for a proxy, which forwards them (RFC 9110 15.2). A
	// session may call it on any goroutine, its own included, which it must not keep waiting.
	Interim Interim
}

// Interim takes the informational responses of a request (see Info.Interim): the status code
// and the fields, which it may keep but not change.
type Interim interface {
	Got1xx(code int, h http.Header)
}

// HeadList is a response head's fields, in the order they came (see Info.List).
type HeadList struct {
	Fields []fieldlist.Field
}

// begin records a new attempt, on session id: what the last attempt reported is cleared, and
// what the caller gave and asked for (Request, List, Interim) stays.
func (info *Info) begin(id uint64, protocol string, attempt int) {
	*info = Info{SessionID: id, Protocol: protocol, Attempts: attempt, List: info.List, Request: info.Request,
		Upstream: info.Upstream, Interim: info.Interim}
}

// infoKey is the context key of a request's Info: a pointer, which a context's Value compares
// with the key it is asked for as two words, where an empty struct's comparison took a call
// into the runtime (about 20 instructions; three lookups a proxied request, callgrind).
var infoKey = new(struct{ _ byte })

// WithInfo returns a copy of ctx that carries info.
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey, info)
}

// InfoContext is a context that carries its own Info: WithInfo without an
// allocation, for a caller that keeps per-request state in a struct of its
// own anyway. Set Context to the parent before use; everything but the Info
// is the parent's (its deadline, cancellation, cause and values).
type InfoContext struct {
	context.Context
	Info Info
}

// Value returns &c.Info for the pool's key and the parent's value otherwise.
func (c *InfoContext) Value(key any) any {
	if key == infoKey {
		return &c.Info
	}
	return c.Context.Value(key)
}

// InfoFrom returns the Info that ctx carries, or nil.
func InfoFrom(ctx context.Context) *Info {
	info, _ := ctx.Value(infoKey).(*Info)
	return info
}

// Got1xxResponse returns an httptrace hook that passes the informational responses of a request
// on ctx to its Info's Interim, or nil where there is none: for a session on a client that
// reports them through httptrace (x/net's, quic-go's). Past max1xx responses the hook fails the
// request: x/net's client leaves the bound to a hook that takes them. A 101 fails it too.
func Got1xxResponse(ctx context.Context) func(int, textproto.MIMEHeader) error {
	info := InfoFrom(ctx)
	if info == nil || info.Interim == nil {
		return nil
	}
	in, n := info.Interim, 0
	return func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusSwitchingProtocols {
			return errSwitchingProtocols
		}
		if n++; n > max1xx {
			return errTooMany1xx
		}
		in.Got1xx(code, http.Header(h))
		return nil
	}
}

// max1xx bounds the informational responses that one request may get, as muxgate's own HTTP/2
// session does.
const max1xx = 16

var errTooMany1xx = errors.New("pool: too many informational responses")

// errSwitchingProtocols fails a request answered 101, which HTTP/2 and HTTP/3 do not have (RFC
// 9113 8.6, RFC 9114 4.5): x/net's client reports it as an informational response.
var errSwitchingProtocols = errors.New("pool: 101 Switching Protocols, which HTTP/2 and HTTP/3 do not have")
