package pool

// EndReason is why the pool stopped putting streams on a session.
type EndReason int

const (
	EndGoAway  EndReason = iota // it began to drain: the upstream's GOAWAY
	EndClosed                   // its connection closed or failed
	EndSilent                   // it was closed for a PING unanswered
	EndRefused                  // it refused a stream while it had none in flight (refusedLocked)
	EndAge                      // it was past its age (Limits.MaxSessionAge)
	EndSpare                    // the pool no longer needed it (Limits.SessionIdleTimeout)
	endReasons
)

var endReasonNames = [endReasons]string{"goaway", "closed", "silent", "refused", "age", "spare"}

// String is r's name, as logs and metrics give it.
func (r EndReason) String() string { return endReasonNames[r] }

// Ends counts the sessions a pool stopped putting streams on, by EndReason.
type Ends [endReasons]uint64
