//go:build !unix

package h1

// onReadable is not used where the socket cannot be read directly: waitIdle reads one byte.
func (r *connReader) onReadable(fd uintptr) bool { return true }

// onPeek is not used where the socket cannot be read directly.
func onPeek(fd uintptr) bool { return true }

// rawIdleWait says whether waitIdle can wait on the socket itself on this system.
const rawIdleWait = false
