package fieldlist

// ParseLength parses a Content-Length value (RFC 9110 8.6): 1*DIGIT, into a non-negative int64.
// It refuses an empty value, signs, spaces, any other byte and a number past 2^63-1, as
// strconv.ParseUint(s, 10, 63) does, without its general parser's cost (about 120 instructions
// for "100", which every response of a proxy's has).
func ParseLength(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	const maxInt64 = 1<<63 - 1
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (maxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
