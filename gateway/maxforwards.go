package gateway

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"muxgate/h1"
	"muxgate/internal/fieldlist"
	"muxgate/internal/pool"
)

// Max-Forwards bounds the intermediaries that a TRACE or OPTIONS request passes (RFC 9110
// 7.6.2). The gateway is one: a request whose value is 0 it answers itself, as the request's final
// recipient, and any other it forwards with the value less one. For other methods the field is
// end-to-end data and crosses untouched.

// boundedMethod reports whether Max-Forwards applies to a request with this method.
func boundedMethod(method string) bool {
	return method == http.MethodOptions || method == http.MethodTrace
}

// maxForwards returns the value of r's first Max-Forwards field, and false where r has none or
// its value is no number (RFC 9110 7.6.2: 1*DIGIT), which the gateway leaves alone.
func maxForwards(r *http.Request) (uint64, bool) {
	var v string
	if list, ok := h1.RequestFields(r); ok {
		i := fieldIndex(list, "max-forwards")
		if i < 0 {
			return 0, false
		}
		v = list[i].Value
	} else if vv := r.Header["Max-Forwards"]; len(vv) > 0 {
		v = vv[0]
	}
	if v == "" || v[0] < '0' || v[0] > '9' {
		return 0, false // ParseUint would take neither, but this also leaves out "+1"
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

// fieldIndex returns the index of the first field of list with this lower-case name, or -1.
func fieldIndex(list []fieldlist.Field, name string) int {
	for i, f := range list {
		if fieldlist.SameName(f.Name, name) {
			return i
		}
	}
	return -1
}

// forwardMaxForwards sets the first Max-Forwards field of the upstream request out (in list,
// where begin made the fields a list) to n.
func forwardMaxForwards(out *http.Request, list []fieldlist.Field, n uint64) {
	v := strconv.FormatUint(n, 10)
	if i := fieldIndex(list, "max-forwards"); i >= 0 {
		list[i].Value = v
	} else if vv := out.Header["Max-Forwards"]; len(vv) > 0 {
		vv[0] = v
	}
}

// answerLastHop answers r, whose Max-Forwards is 0, as its final recipient: an OPTIONS with 200
// and no content, which tells that the gateway is there; a TRACE with 200 and the request it
// received as message/http content, without the fields likely to carry credentials (RFC 9110
// 9.3.8).
func (p *proxy) answerLastHop(w http.ResponseWriter, r *http.Request) {
	rec := record{in: r, info: new(pool.Info), status: http.StatusOK}
	if p.timed {
		rec.start = time.Now()
	}
	var body []byte
	if r.Method == http.MethodTrace {
		body = traceContent(r)
		w.Header().Set("Content-Type", "message/http")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	p.setResp.setHeader(w.Header())
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	rec.bytesOut = int64(len(body))
	p.done(&rec)
}

// traceContent is the request a TRACE received, as HTTP/1.1 message/http: its request line and
// its fields, without those that carry credentials.
func traceContent(r *http.Request) []byte {
	var b bytes.Buffer
	b.WriteString(r.Method + " " + r.RequestURI + " " + r.Proto + "\r\n")
	write := func(name, value string) {
		if !fieldlist.SameName(name, "authorization") && !fieldlist.SameName(name, "proxy-authorization") &&
			!fieldlist.SameName(name, "cookie") {
			b.WriteString(name + ": " + value + "\r\n")
		}
	}
	if list, ok := h1.RequestFields(r); ok {
		for _, f := range list {
			write(f.Name, f.Value)
		}
	} else {
		b.WriteString("Host: " + r.Host + "\r\n")
		for k, vv := range r.Header {
			for _, v := range vv {
				write(k, v)
			}
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
