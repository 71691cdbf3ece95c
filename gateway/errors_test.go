package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"muxgate/h1"
	"muxgate/internal/pool"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		reason string
	}{
		{pool.ErrResponseTimeout, 504, "upstream_timeout"},
		{errors.Join(errClientBody, h1.ErrBodyTimeout), 408, "client_body_timeout"},
		{errors.Join(errClientBody, io.ErrUnexpectedEOF), 400, "client_body"},
		{errors.Join(errClientBody, h1.ErrBodyTooLarge), 413, "client_body_too_large"},
		{fmt.Errorf("h2: %w", pool.ErrQueueFull), 503, "queue_full"},
		{pool.ErrQueueTimeout, 503, "queue_timeout"},
		{pool.ErrClosed, 503, "shutting_down"},
		{fmt.Errorf("%w: %w", http.ErrServerClosed, context.Canceled), 503, "shutdown_timeout"},
		{fmt.Errorf("h2: session 1: %w", pool.ErrRequestHeaderTooLarge), 431, "upstream_request_header_too_large"},
		{fmt.Errorf("%w: dial: connection refused", pool.ErrUnavailable), 502, "upstream_unreachable"},
		{fmt.Errorf("pool: waiting: %w", context.Canceled), statusClientClosed, "client_closed"},
		{errors.New("h2conn: stream reset by peer"), 502, "upstream_error"},
	} {
		f := classify(tc.err)
		if f.status != tc.status || f.reason != tc.reason {
			t.Errorf("classify(%v): got %d %s, want %d %s", tc.err, f.status, f.reason, tc.status, tc.reason)
		}
	}
}

// TestCutByServer: a request cancelled by the drain's deadline (cause http.ErrServerClosed), or
// by the server's closing its connection before its turn (h1.ErrPipelineClosed), is the
// server's failure, not the client's; one cancelled for another cause stays as it was.
func TestCutByServer(t *testing.T) {
	for _, tc := range []struct {
		cause error
		want  string
	}{
		{http.ErrServerClosed, "shutdown_timeout"},
		{h1.ErrPipelineClosed, "pipeline_closed"},
		{errors.New("client gone"), "client_closed"},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(tc.cause)
		r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
		err := cutByServer(r, fmt.Errorf("h2conn: request: %w", ctx.Err()))
		if got := classify(err).reason; got != tc.want {
			t.Errorf("cancelled with %v: reason %q, want %q", tc.cause, got, tc.want)
		}
	}
}
