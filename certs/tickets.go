package certs

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The schedule of the keys Tickets makes itself: crypto/tls's own for a configuration whose keys
// it makes (a new key a day, each opening tickets for a week), so that keys of muxgate's own
// change nothing but who holds them.
const (
	TicketRotation = 24 * time.Hour
	ticketLifetime = 7 * 24 * time.Hour
)

// Tickets are the keys that seal and open the TLS session tickets of the client listeners (RFC
// 8446 4.6.1, RFC 5077): the first seals new tickets, each opens them. They come from a file the
// operator keeps (shared by several muxgate processes, so that a client resumes on any), or are
// made and rotated here, and can then be handed to the process of an upgrade, so that its
// clients resume across it.
//
// crypto/tls makes and rotates keys too, but keeps them to itself; they could not outlive the
// process.
type Tickets struct {
	file string // "" for keys of its own

	mu      sync.Mutex
	keys    []ticketKey   // guarded by mu; newest first, never empty
	configs []*tls.Config // guarded by mu; those that use the keys
}

type ticketKey struct {
	key     [32]byte
	created time.Time // for keys of its own; zero for a file's
}

// NewTickets returns the keys of file (see LoadTicketKeys), or, where file is "", a key of its
// own made now.
func NewTickets(file string) (*Tickets, error) {
	t := &Tickets{file: file}
	if file != "" {
		return t, t.Reload()
	}
	k, err := newTicketKey(time.Now())
	if err != nil {
		return nil, err
	}
	t.keys = []ticketKey{k}
	return t, nil
}

func newTicketKey(now time.Time) (ticketKey, error) {
	k := ticketKey{created: now}
	if _, err := rand.Read(k.key[:]); err != nil {
		return k, fmt.Errorf("certs: session ticket key: %w", err)
	}
	return k, nil
}

// Own reports whether the keys are made here rather than read from a file.
func (t *Tickets) Own() bool { return t.file == "" }

// use has c seal and open tickets with the keys, now and after each change.
func (t *Tickets) use(c *tls.Config) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.configs = append(t.configs, c)
	c.SetSessionTicketKeys(t.rawLocked())
}

// setLocked makes keys the keys, and those of every configuration that uses them.
func (t *Tickets) setLocked(keys []ticketKey) {
	t.keys = keys
	raw := t.rawLocked()
	for _, c := range t.configs {
		c.SetSessionTicketKeys(raw) // safe during handshakes, as its documentation says
	}
}

func (t *Tickets) rawLocked() [][32]byte {
	raw := make([][32]byte, len(t.keys))
	for i, k := range t.keys {
		raw[i] = k.key
	}
	return raw
}

// Reload reads the file again; on error the keys in use stay. Keys of its own are kept: there is
// nothing to read.
func (t *Tickets) Reload() error {
	if t.file == "" {
		return nil
	}
	b, err := os.ReadFile(t.file)
	if err != nil {
		return fmt.Errorf("certs: session ticket keys: %w", err)
	}
	raw, err := LoadTicketKeys(b)
	if err != nil {
		return fmt.Errorf("certs: session ticket keys %s: %w", t.file, err)
	}
	keys := make([]ticketKey, len(raw))
	for i := range raw {
		keys[i].key = raw[i]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setLocked(keys)
	return nil
}

// LoadTicketKeys reads a file of session ticket keys: one a line, each 32 random bytes in
// standard base64 (`openssl rand -base64 32`); blank lines and lines that begin with # are left
// out. The first key seals new tickets; every key opens them. To change the key of several
// processes without a full handshake for clients of any, add the new key as the second line and
// reload them all, then move it to the first line and reload them again.
func LoadTicketKeys(b []byte) ([][32]byte, error) {
	var keys [][32]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("line %d: not 32 bytes in base64", n)
		}
		keys = append(keys, [32]byte(k))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	return keys, nil
}

// Rotate, for keys of its own, adds a new key to seal tickets with once the newest is
// TicketRotation old, and drops the keys made ticketLifetime before now. It reports whether the
// keys changed. Keys from a file change only by Reload.
func (t *Tickets) Rotate(now time.Time) (bool, error) {
	if t.file != "" {
		return false, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := t.keys
	added := now.Sub(keys[0].created) >= TicketRotation
	if added {
		k, err := newTicketKey(now)
		if err != nil {
			return false, err
		}
		keys = append([]ticketKey{k}, keys...)
	}
	kept := keys[:1:1] // the newest, whatever its age: there must be one to seal with
	for _, k := range keys[1:] {
		if now.Sub(k.created) < ticketLifetime {
			kept = append(kept, k)
		}
	}
	if !added && len(kept) == len(t.keys) {
		return false, nil
	}
	t.setLocked(kept)
	return true, nil
}

// Export writes keys of its own for Import in another process: one a line, the key in base64 and
// the Unix time it was made. It writes nothing for a file's keys, which that process reads itself.
func (t *Tickets) Export() []byte {
	if t.file != "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var b []byte
	for _, k := range t.keys {
		b = base64.StdEncoding.AppendEncode(b, k.key[:])
		b = append(b, ' ')
		b = strconv.AppendInt(b, k.created.Unix(), 10)
		b = append(b, '\n')
	}
	return b
}

// Import takes the keys that another process's Export wrote in place of these, which must be of
// its own; on error the keys stay as they were.
func (t *Tickets) Import(b []byte) error {
	if t.file != "" {
		return errors.New("certs: session ticket keys come from a file")
	}
	var keys []ticketKey
	for line := range strings.Lines(string(b)) {
		enc, created, ok := strings.Cut(strings.TrimSpace(line), " ")
		k, err := base64.StdEncoding.DecodeString(enc)
		unix, uerr := strconv.ParseInt(created, 10, 64)
		if !ok || err != nil || len(k) != 32 || uerr != nil {
			return fmt.Errorf("certs: session ticket keys handed over: %q is not a key and a time", line)
		}
		keys = append(keys, ticketKey{key: [32]byte(k), created: time.Unix(unix, 0)})
	}
	if len(keys) == 0 {
		return errors.New("certs: session ticket keys handed over: no key")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setLocked(keys)
	return nil
}
