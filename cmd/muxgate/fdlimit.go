package main

import "github.com/rs/zerolog"

// ownFiles is about what muxgate keeps open besides its client connections: the standard
// streams, log files, listeners, the runtime's poller, and room for upstream sessions and dials
// (added per upstream).
const ownFiles = 64

// warnFileLimit logs where limit, the open-file limit (0: unknown), is below what -max-conns
// client connections and muxgate's own files take: past it, accepting fails (EMFILE), and the
// accept loops pause and retry, before -max-conns is reached.
func warnFileLimit(o *options, limit uint64, log zerolog.Logger) {
	need := uint64(o.front.MaxConns) + ownFiles + uint64(len(o.upstreams)*max(o.pool.MaxSessions, 1))
	if limit == 0 || limit >= need {
		return
	}
	log.Warn().Uint64("limit", limit).Int("max_conns", o.front.MaxConns).Uint64("needed", need).
		Msg("the open-file limit is below -max-conns and muxgate's own files: accepts will fail before the cap; raise it (ulimit -n, or LimitNOFILE= under systemd) or lower -max-conns")
}
