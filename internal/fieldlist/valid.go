package fieldlist

// ValidValue reports whether s holds only field-vchar, SP and HTAB (RFC 9110 5.5): no NUL, CR,
// LF, other controls, or DEL. obs-text (0x80-0xFF) is allowed. Every field of every request and
// response passes here, in h1 and in the upstream sessions, most with values longer than a word,
// so it checks eight bytes at a time while none is below SP or DEL (HTAB sends the rest to the
// byte-wise check), and a value's last eight bytes as one word too, overlapping the word before
// where the length is no multiple of eight: a byte loop over the last few took about as long as
// all the words before them.
func ValidValue(s string) bool {
	if len(s) < 8 {
		return validBytes(s)
	}
	v := s
	for len(v) > 8 && !ctlInWord(word(v)) {
		v = v[8:]
	}
	if len(v) > 8 {
		return validBytes(v)
	}
	tail := s[len(s)-8:]
	return !ctlInWord(word(tail)) || validBytes(tail)
}

// validBytes is ValidValue byte by byte.
func validBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// word is the first eight bytes of s, the first in the low byte (the compiler makes it one load).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// ctlInWord reports whether one of the eight bytes of w is below 0x20 or is 0x7f. A byte below
// 0x20 is the only kind whose subtraction of 0x20 borrows into its top bit while its top bit
// was clear, and a byte equal to 0x7f the only kind that XOR 0x7f makes zero, and so the only
// kind whose subtraction of 1 after it does the same (XOR 0x7f keeps the top bit). A borrow
// runs up from a byte that is one of those kinds, so whatever it does to the bytes above, the
// word-wide test is exact.
func ctlInWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return ((w-0x20*ones)|(w^0x7f*ones-ones))&^w&highs != 0
}

// TokenCase reports whether name is a token (RFC 9110 5.6.2), the form of a field name (RFC
// 9110 5.1), and whether it has an upper-case letter: an HTTP/2 or HTTP/3 field name must have
// none (RFC 9113 8.2.1, RFC 9114 4.2), so a session lowers one that has before it sends it. One
// pass answers both, where a token check and a search for upper case took a pass each.
func TokenCase(name string) (token, upper bool) {
	var seen byte
	for i := 0; i < len(name); i++ {
		c := nameClass[name[i]]
		if c == 0 {
			return false, false
		}
		seen |= c
	}
	return name != "", seen&upperLetter != 0
}

// The classes of nameClass: 0 for a byte no token holds.
const (
	tokenByte   = 1 << iota // a tchar (RFC 9110 5.6.2)
	upperLetter             // a tchar that is an upper-case ASCII letter
)

// nameClass gives each byte its class.
var nameClass = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = tokenByte
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = tokenByte, tokenByte|upperLetter
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = tokenByte
	}
	return t
}()

// TokenByte reports whether c is a tchar, a byte a token may hold (RFC 9110 5.6.2).
func TokenByte(c byte) bool { return nameClass[c] != 0 }
