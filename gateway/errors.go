package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"muxgate/h1"
	"muxgate/internal/pool"
)

// Errors the gateway itself finds on the request path.
var (
	errClientBody     = errors.New("gateway: reading the client's request body")
	errUpstreamStatus = errors.New("gateway: upstream sent an invalid final status code")
)

// failure is what a client is told about an error: its status and a short plain-text body, and
// the reason the access log gives.
type failure struct {
	status int
	body   string
	reason string
}

// classify maps an error from the request path to what the client gets. It is the one place
// where errors become statuses.
func classify(err error) failure {
	switch {
	case errors.Is(err, pool.ErrResponseTimeout):
		return failure{http.StatusGatewayTimeout, "upstream did not answer in time\n", "upstream_timeout"}
	case errors.Is(err, pool.ErrBodyIdle):
		// Mid-body as a rule: the client's connection is cut, as no status can follow.
		return failure{http.StatusGatewayTimeout, "upstream stopped sending the response\n", "upstream_body_timeout"}
	case errors.Is(err, h1.ErrBodyTimeout):
		return failure{http.StatusRequestTimeout, "request body did not arrive in time\n", "client_body_timeout"}
	case errors.Is(err, h1.ErrBodyTooLarge):
		return failure{http.StatusRequestEntityTooLarge, "request body too large\n", "client_body_too_large"}
	case errors.Is(err, errClientBody):
		return failure{http.StatusBadRequest, "request body could not be read\n", "client_body"}
	case errors.Is(err, pool.ErrRequestHeaderTooLarge):
		// RFC 6585 5, on the upstream's behalf: it said it takes no more.
		return failure{http.StatusRequestHeaderFieldsTooLarge, "request header fields too large for the upstream\n", "upstream_request_header_too_large"}
	case errors.Is(err, pool.ErrQueueFull):
		return failure{http.StatusServiceUnavailable, "too many requests waiting for the upstream\n", "queue_full"}
	case errors.Is(err, pool.ErrQueueTimeout):
		return failure{http.StatusServiceUnavailable, "no upstream stream became free in time\n", "queue_timeout"}
	case errors.Is(err, pool.ErrClosed):
		return failure{http.StatusServiceUnavailable, "gateway is shutting down\n", "shutting_down"}
	case errors.Is(err, http.ErrServerClosed):
		// Cut off at the drain's deadline (cutByServer): the client gets no answer.
		return failure{http.StatusServiceUnavailable, "gateway is shutting down\n", "shutdown_timeout"}
	case errors.Is(err, h1.ErrTunnelIdle):
		// A switched connection cut for carrying nothing (cutByServer); its 101 was sent.
		return failure{http.StatusRequestTimeout, "", "tunnel_idle"}
	case errors.Is(err, errTunnelClient):
		return failure{statusClientClosed, "", "client_closed"}
	case errors.Is(err, errWebSocketKey):
		return failure{http.StatusBadRequest, "invalid WebSocket handshake\n", "websocket_key"}
	case errors.Is(err, h1.ErrPipelineClosed):
		// The connection was closed before the request's turn (cutByServer).
		return failure{http.StatusServiceUnavailable, "connection closed before this request's turn\n", "pipeline_closed"}
	case errors.Is(err, pool.ErrNoExtendedConnect):
		return failure{http.StatusBadGateway, "upstream does not take WebSocket (extended CONNECT)\n", "no_extended_connect"}
	case errors.Is(err, pool.ErrUnavailable):
		return failure{http.StatusBadGateway, "upstream is not reachable\n", "upstream_unreachable"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer. 499 as nginx logs it.
		return failure{statusClientClosed, "", "client_closed"}
	default:
		return failure{http.StatusBadGateway, "upstream failed\n", "upstream_error"}
	}
}

// cutByServer returns err, a request's failure, marked with the cause of its cancelled context
// where the server cut the request off, rather than the client: at the drain's deadline
// (-shutdown-timeout: http.ErrServerClosed), or by closing its connection before a pipelined
// request's turn, after an earlier response failed (h1.ErrPipelineClosed), or for a tunnel that
// carried nothing for -tunnel-idle-timeout (h1.ErrTunnelIdle). The sessions report each as a
// cancelled request, as if the client had left.
func cutByServer(r *http.Request, err error) error {
	if !errors.Is(err, context.Canceled) {
		return err
	}
	if cause := context.Cause(r.Context()); errors.Is(cause, http.ErrServerClosed) || errors.Is(cause, h1.ErrPipelineClosed) ||
		errors.Is(cause, h1.ErrTunnelIdle) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

// statusClientClosed is logged when the client closed before its response; it is never sent.
const statusClientClosed = 499
