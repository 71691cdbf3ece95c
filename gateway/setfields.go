package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"

	"muxgate/internal/fieldlist"
)

// Field is a header field that the operator has the gateway set on every request it sends
// upstream (Config.SetRequestFields) or every response it relays (Config.SetResponseFields): it
// replaces the fields of its name that the client or the upstream sent, and where Value is
// empty, it only removes them. So a response gets Strict-Transport-Security, say, and loses
// Server.
type Field struct {
	Name  string // a token (RFC 9110 5.1)
	Value string // no CR, LF, NUL or other control but HTAB (RFC 9110 5.5); "": remove
}

// framingFields are the names a set field may not have: they frame the message or belong to
// the hop, and the gateway writes them itself (RFC 9110 7.6.1, RFC 9112 6, RFC 9113 8.2.2).
var framingFields = []string{"connection", "content-length", "host", "keep-alive", "proxy-connection",
	"te", "trailer", "transfer-encoding", "upgrade"}

// ParseField reads a field given as "Name: value" ("Name:" to remove it). A name that frames
// the message or belongs to the hop is refused: the gateway sets those itself.
func ParseField(s string) (Field, error) {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return Field{}, errors.New("gateway: want Name: value, the name a token")
	}
	f := Field{Name: name, Value: strings.Trim(value, " \t")}
	if err := f.check(); err != nil {
		return Field{}, fmt.Errorf("gateway: %w", err)
	}
	return f, nil
}

// check is what ParseField refuses in a field, and New in Config.SetRequestFields and
// SetResponseFields: the gateway puts their values in lists of fields as they are
// (fieldlist.Field), which h1 and the upstream sessions write without a second look.
func (f Field) check() error {
	if !httpguts.ValidHeaderFieldName(f.Name) {
		return errors.New("want Name: value, the name a token")
	}
	if !fieldlist.ValidValue(f.Value) {
		return errors.New("a control character in the value")
	}
	for _, fr := range framingFields {
		if fieldlist.SameName(f.Name, fr) {
			return fmt.Errorf("%s frames the message or belongs to the hop; muxgate sets it itself", f.Name)
		}
	}
	return nil
}

// fieldSet is a list of Fields ready to apply to lists (names in lower case) and maps
// (canonical names).
type fieldSet struct {
	lower     []fieldlist.Field
	canonical []Field
}

func newFieldSet(fields []Field) fieldSet {
	var s fieldSet
	for _, f := range fields {
		s.lower = append(s.lower, fieldlist.Field{Name: strings.ToLower(f.Name), Value: f.Value})
		s.canonical = append(s.canonical, Field{Name: textproto.CanonicalMIMEHeaderKey(f.Name), Value: f.Value})
	}
	return s
}

// setList returns list with the set's fields in place of those of their names.
func (s fieldSet) setList(list []fieldlist.Field) []fieldlist.Field {
	if len(s.lower) == 0 {
		return list
	}
	out := list[:0]
	for _, f := range list {
		if !s.names(f.Name) {
			out = append(out, f)
		}
	}
	for _, f := range s.lower {
		if f.Value != "" {
			out = append(out, f)
		}
	}
	return out
}

// names reports whether a field of the set has this name.
func (s fieldSet) names(name string) bool {
	for _, f := range s.lower {
		if fieldlist.SameName(name, f.Name) {
			return true
		}
	}
	return false
}

// setHeader puts the set's fields in h in place of those of their names.
func (s fieldSet) setHeader(h http.Header) {
	for _, f := range s.canonical {
		// The map may hold the name in another case where it was not built by canonical keys.
		for k := range h {
			if fieldlist.SameName(k, f.Name) {
				delete(h, k)
			}
		}
		if f.Value != "" {
			h[f.Name] = []string{f.Value}
		}
	}
}
