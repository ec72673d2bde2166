package probe

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// chunkBits is how many sequence numbers one bitset chunk covers.
const (
	chunkShift = 16
	chunkWords = 1 << (chunkShift - 6)
)

type chunk [chunkWords]uint64

// table is a growable slice of *T, indexed from 0, that readers use without
// a lock; only growing takes one. The bitset's chunks and the ledger's
// per-producer bitsets are both tables.
type table[T any] struct {
	mu    sync.Mutex
	items atomic.Pointer[[]*T]
}

// get returns item i, creating it (and growing the table) when create is
// set; without create a missing item is nil.
func (t *table[T]) get(i uint64, create bool) *T {
	if p := t.items.Load(); p != nil && i < uint64(len(*p)) && (*p)[i] != nil {
		return (*p)[i]
	}
	if !create {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.all()
	if i < uint64(len(cur)) && cur[i] != nil {
		return cur[i]
	}
	next := make([]*T, max(uint64(len(cur)), i+1))
	copy(next, cur)
	next[i] = new(T)
	t.items.Store(&next)
	return next[i]
}

// all returns the items (some may be nil).
func (t *table[T]) all() []*T {
	if p := t.items.Load(); p != nil {
		return *p
	}
	return nil
}

// bitset is a growable set of sequence numbers, safe for concurrent Set and
// Has. Sequences are dense from 0, so chunks are allocated in order.
type bitset struct {
	chunks table[chunk]
}

// set adds seq and reports whether it was already present.
func (b *bitset) set(seq uint64) (had bool) {
	c := b.chunks.get(seq>>chunkShift, true)
	w, m := (seq>>6)&(chunkWords-1), uint64(1)<<(seq&63)
	return atomic.OrUint64(&c[w], m)&m != 0
}

// has reports whether seq is present.
func (b *bitset) has(seq uint64) bool {
	c := b.chunks.get(seq>>chunkShift, false)
	if c == nil {
		return false
	}
	w, m := (seq>>6)&(chunkWords-1), uint64(1)<<(seq&63)
	return atomic.LoadUint64(&c[w])&m != 0
}

// count returns how many sequences are present. Not concurrent with set.
func (b *bitset) count() int64 {
	var n int64
	for _, c := range b.chunks.all() {
		if c == nil {
			continue
		}
		for _, w := range c {
			n += int64(bits.OnesCount64(w))
		}
	}
	return n
}

// eachAndNot calls f with every non-zero word of b &^ o and the sequence
// of the word's bit 0, lowest first, until f returns false. o may be nil
// (empty). Words are read atomically, so it may run concurrently with set:
// a snapshot that may miss sets racing with it.
func (b *bitset) eachAndNot(o *bitset, f func(base, w uint64) bool) {
	var oc []*chunk
	if o != nil {
		oc = o.chunks.all()
	}
	for i, c := range b.chunks.all() {
		if c == nil {
			continue
		}
		var other *chunk
		if i < len(oc) {
			other = oc[i]
		}
		for j := range c {
			w := atomic.LoadUint64(&c[j])
			if other != nil {
				w &^= atomic.LoadUint64(&other[j])
			}
			if w != 0 && !f(uint64(i)<<chunkShift|uint64(j)<<6, w) {
				return
			}
		}
	}
}

// countAndNot returns how many sequences are in b but not in o (nil:
// empty). It may run concurrently with set (see eachAndNot).
func (b *bitset) countAndNot(o *bitset) int64 {
	var n int64
	b.eachAndNot(o, func(_, w uint64) bool {
		n += int64(bits.OnesCount64(w))
		return true
	})
	return n
}

// firstAndNot returns up to max sequences, lowest first, that are in b but
// not in o (nil: empty).
func (b *bitset) firstAndNot(o *bitset, max int) []uint64 {
	var out []uint64
	if max <= 0 {
		return nil
	}
	b.eachAndNot(o, func(base, w uint64) bool {
		for w != 0 && len(out) < max {
			out = append(out, base|uint64(bits.TrailingZeros64(w)))
			w &= w - 1
		}
		return len(out) < max
	})
	return out
}
