package h2conn

import "iter"

// streamTable holds a session's open streams by ID. Their IDs are ours
// (odd, each two more than the one before, RFC 9113 5.1.1) and few of them
// are open at once, so a stream goes to the slot of an array its ID picks,
// where finding it is an index and a compare; one whose slot is still
// taken by an older stream goes to a map. With a map alone, a lookup (two
// a response: HEADERS, DATA) took about 80 instructions and an insert 140
// (callgrind, the benchmark's small requests).
//
// The zero value is empty. Guarded by Conn.mu, as the streams are.
type streamTable struct {
	slots [streamSlots]*stream
	more  map[uint32]*stream // the streams whose slot was taken when they opened
}

// streamSlots is the array's length, a power of two: 64 consecutive
// streams have slots of their own.
const streamSlots = 64

func slotOf(id uint32) uint32 { return id >> 1 & (streamSlots - 1) }

// get returns the open stream with this ID, or nil.
func (t *streamTable) get(id uint32) *stream {
	if s := t.slots[slotOf(id)]; s != nil && s.id == id {
		return s
	}
	if t.more == nil {
		return nil
	}
	return t.more[id]
}

// add adds s, whose ID is set and not in the table.
func (t *streamTable) add(s *stream) {
	if i := slotOf(s.id); t.slots[i] == nil {
		t.slots[i] = s
		return
	}
	if t.more == nil {
		t.more = make(map[uint32]*stream)
	}
	t.more[s.id] = s
}

// remove removes s, if the table has it.
func (t *streamTable) remove(s *stream) {
	if i := slotOf(s.id); t.slots[i] == s {
		t.slots[i] = nil
		return
	}
	delete(t.more, s.id)
}

// all yields every stream in the table, in no particular order. The loop
// may remove the stream it was given.
func (t *streamTable) all() iter.Seq[*stream] {
	return func(yield func(*stream) bool) {
		for _, s := range t.slots {
			if s != nil && !yield(s) {
				return
			}
		}
		for _, s := range t.more {
			if !yield(s) {
				return
			}
		}
	}
}
