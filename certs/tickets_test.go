package certs

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// heldCache offers the one session it was given first, whatever the server sends later: a
// ticket sealed by one key, to try on servers whose keys changed.
type heldCache struct{ cs *tls.ClientSessionState }

func (c *heldCache) Get(string) (*tls.ClientSessionState, bool) { return c.cs, c.cs != nil }

func (c *heldCache) Put(_ string, cs *tls.ClientSessionState) {
	if c.cs == nil {
		c.cs = cs
	}
}

// ticketDial connects to addr over TLS 1.3 with cache and reports whether the session resumed.
func ticketDial(t *testing.T, addr string, cache tls.ClientSessionCache) bool {
	t.Helper()
	cfg := &tls.Config{ServerName: "a.test", ClientSessionCache: cache, InsecureSkipVerify: true,
		MinVersion: tls.VersionTLS13, NextProtos: []string{"http/1.1"}}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	io.ReadFull(c, make([]byte, 1)) // the server's byte: TLS 1.3 tickets come after the handshake
	return c.ConnectionState().DidResume
}

// ticketServer serves TLS with a store of its own that uses tickets, as a muxgate process
// does, and returns its address.
func ticketServer(t *testing.T, tickets *Tickets) string {
	t.Helper()
	cert, err := SelfSigned("a.test")
	if err != nil {
		t.Fatal(err)
	}
	store := FromCertificates(cert)
	store.UseTickets(tickets)
	return listen(t, store)
}

func writeKeys(t *testing.T, path string, keys ...[]byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# session ticket keys\n\n")
	for _, k := range keys {
		b.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTicketKeysFile: two servers with the same key file (two processes) resume each other's
// sessions; after a reload a key still in the file opens its tickets, and one taken out of it
// does not.
func TestTicketKeysFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	writeKeys(t, file, oldKey)
	one, err := NewTickets(file)
	if err != nil {
		t.Fatal(err)
	}
	two, err := NewTickets(file)
	if err != nil {
		t.Fatal(err)
	}
	a, b := ticketServer(t, one), ticketServer(t, two)
	sealedOld := &heldCache{}
	ticketDial(t, a, sealedOld)
	if !ticketDial(t, b, sealedOld) {
		t.Fatal("a session did not resume on another server with the same key file")
	}
	if got := ticketDial(t, ticketServer(t, mustOwn(t)), sealedOld); got {
		t.Fatal("a session resumed on a server with keys of its own")
	}

	writeKeys(t, file, newKey, oldKey)
	for _, tk := range []*Tickets{one, two} {
		if err := tk.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if !ticketDial(t, b, sealedOld) {
		t.Error("a ticket of the second key in the file did not resume")
	}
	sealedNew := &heldCache{}
	ticketDial(t, a, sealedNew)
	writeKeys(t, file, newKey)
	if err := two.Reload(); err != nil {
		t.Fatal(err)
	}
	if ticketDial(t, b, sealedOld) {
		t.Error("a ticket of a key taken out of the file resumed")
	}
	if !ticketDial(t, b, sealedNew) {
		t.Error("a ticket sealed by the first key after a reload did not resume on the other server")
	}

	os.WriteFile(file, []byte("not a key\n"), 0o600)
	if err := two.Reload(); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("Reload of a bad file: %v, want an error naming line 1", err)
	}
	if !ticketDial(t, b, sealedNew) {
		t.Error("a failed reload changed the keys")
	}
}

func mustOwn(t testing.TB) *Tickets {
	t.Helper()
	tk, err := NewTickets("")
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestTicketRotation: keys of its own get a new sealing key each TicketRotation, and a key
// opens tickets until ticketLifetime after it was made.
func TestTicketRotation(t *testing.T) {
	tk := mustOwn(t)
	addr := ticketServer(t, tk)
	made := tk.keys[0].created
	sealedFirst := &heldCache{}
	ticketDial(t, addr, sealedFirst)

	if changed, _ := tk.Rotate(made.Add(TicketRotation - time.Second)); changed {
		t.Fatal("keys rotated before TicketRotation")
	}
	if changed, _ := tk.Rotate(made.Add(TicketRotation)); !changed || len(tk.keys) != 2 {
		t.Fatalf("after TicketRotation: %d keys, want 2", len(tk.keys))
	}
	sealedSecond := &heldCache{}
	ticketDial(t, addr, sealedSecond) // a full handshake: its ticket is the new key's
	if !ticketDial(t, addr, sealedFirst) {
		t.Fatal("a ticket of the first key did not resume after a rotation")
	}
	for day := 2; day <= 6; day++ {
		tk.Rotate(made.Add(time.Duration(day) * TicketRotation))
	}
	if !ticketDial(t, addr, sealedFirst) {
		t.Fatal("a ticket of the first key did not resume within its lifetime")
	}
	tk.Rotate(made.Add(ticketLifetime))
	if len(tk.keys) != 7 {
		t.Errorf("after a week: %d keys, want 7 (one a day, the first dropped)", len(tk.keys))
	}
	if ticketDial(t, addr, sealedFirst) {
		t.Error("a ticket of a key past its lifetime resumed")
	}
	if !ticketDial(t, addr, sealedSecond) {
		t.Error("a ticket of the second key did not resume once the first was dropped")
	}
}

// TestTicketsHandedOver: keys of its own exported by one process and imported by another open
// the first one's tickets there, and keep their times for rotation.
func TestTicketsHandedOver(t *testing.T) {
	old := mustOwn(t)
	old.Rotate(old.keys[0].created.Add(TicketRotation))
	sealed := &heldCache{}
	ticketDial(t, ticketServer(t, old), sealed)

	next := mustOwn(t)
	addr := ticketServer(t, next)
	if ticketDial(t, addr, sealed) {
		t.Fatal("a session resumed before the keys were handed over")
	}
	if err := next.Import(old.Export()); err != nil {
		t.Fatal(err)
	}
	if !ticketDial(t, addr, sealed) {
		t.Fatal("a session did not resume with the keys handed over")
	}
	if !next.keys[1].created.Equal(old.keys[1].created.Truncate(time.Second)) {
		t.Errorf("a key handed over was made at %v, want %v", next.keys[1].created, old.keys[1].created)
	}

	for _, bad := range []string{"", "x 1\n", base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"} {
		if err := next.Import([]byte(bad)); err == nil {
			t.Errorf("Import(%q): no error", bad)
		}
	}
	if !ticketDial(t, addr, sealed) {
		t.Error("a failed import changed the keys")
	}
	file := filepath.Join(t.TempDir(), "keys")
	writeKeys(t, file, make([]byte, 32))
	fromFile, err := NewTickets(file)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile.Export() != nil || fromFile.Import(old.Export()) == nil {
		t.Error("keys from a file were exported or imported")
	}
}

func TestLoadTicketKeys(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, tc := range []struct {
		in   string
		keys int
		err  string
	}{
		{key, 1, ""},
		{"# a comment\n\n  " + key + "  \n" + key + "\n", 2, ""},
		{"", 0, "no key"},
		{"# only\n", 0, "no key"},
		{key + "\n" + key[:40] + "\n", 0, "line 2"},
		{base64.StdEncoding.EncodeToString(make([]byte, 48)), 0, "line 1"},
	} {
		keys, err := LoadTicketKeys([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(keys) != tc.keys {
			t.Errorf("%q: %d keys, %v; want %d", tc.in, len(keys), err, tc.keys)
		}
	}
}

func FuzzLoadTicketKeys(f *testing.F) {
	f.Add([]byte("# keys\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"))
	f.Add([]byte("AAAA\n\n#\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := LoadTicketKeys(b)
		if err == nil && len(keys) == 0 {
			t.Fatal("no key and no error")
		}
	})
}

func FuzzImportTickets(f *testing.F) {
	f.Add(mustOwn(f).Export())
	f.Add([]byte("AAAA 12\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tk := mustOwn(t)
		before := tk.keys
		if err := tk.Import(b); err != nil {
			if &tk.keys[0] != &before[0] {
				t.Fatal("a failed import changed the keys")
			}
			return
		}
		if len(tk.keys) == 0 {
			t.Fatal("an import left no key")
		}
		again := mustOwn(t)
		if err := again.Import(tk.Export()); err != nil || !bytes.Equal(again.Export(), tk.Export()) {
			t.Fatalf("export of an import does not import alike: %v", err)
		}
	})
}
