package h2conn

import (
	"slices"
	"testing"
)

// TestStreamTable opens more streams than there are slots, closes some in
// an order of their own, and wants the table to find exactly the open ones,
// in its slots and its map alike, and to yield each of them once.
func TestStreamTable(t *testing.T) {
	var table streamTable
	open := map[uint32]*stream{}
	check := func(when string) {
		t.Helper()
		for id := uint32(1); id < 2*3*streamSlots+4; id += 2 {
			if got, want := table.get(id), open[id]; got != want {
				t.Fatalf("%s: get(%d) = %p, want %p", when, id, got, want)
			}
		}
		var got, want []uint32
		for s := range table.all() {
			got = append(got, s.id)
		}
		for id := range open {
			want = append(want, id)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: all() = %v, want %v", when, got, want)
		}
	}
	for id := uint32(1); id < 2*3*streamSlots; id += 2 {
		s := &stream{id: id}
		table.add(s)
		open[id] = s
		if id%7 == 0 { // some close while later ones open, freeing their slots
			table.remove(open[id/7])
			delete(open, id/7)
		}
	}
	check("after opening")
	if len(table.more) == 0 {
		t.Fatal("no stream went to the map: the test does not cover it")
	}
	for id, s := range open {
		if id%3 == 0 {
			table.remove(s)
			delete(open, id)
		}
	}
	table.remove(&stream{id: 9999}) // not in the table: nothing happens
	check("after closing a third")
	for s := range table.all() { // a loop may remove the stream it has
		if s.id%5 == 0 {
			table.remove(s)
			delete(open, s.id)
		}
	}
	check("after closing in a loop")
}
