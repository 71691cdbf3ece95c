//go:build !unix

package h1

// onReadable is not used where the socket cannot be read directly: waitIdle reads one byte.
func (r *connReader) onReadable(fd uintptr) bool { return true }

// onWritable is not used where the socket cannot be written directly.
func (c *conn) onWritable(fd uintptr) bool { return true }

// peekSocket peeks nothing where the socket cannot be read directly.
func peekSocket(fd uintptr, b []byte) (int, bool, error) { return 0, true, nil }

// rawIdleWait says whether waitIdle can wait on the socket itself on this system.
const rawIdleWait = false
