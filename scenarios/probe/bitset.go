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

// bitset is a growable set of sequence numbers, safe for concurrent Set and
// Has. Sequences are dense from 0, so chunks are allocated in order.
type bitset struct {
	mu     sync.Mutex
	chunks atomic.Pointer[[]*chunk]
}

// set adds seq and reports whether it was already present.
func (b *bitset) set(seq uint64) (had bool) {
	c := b.chunk(seq>>chunkShift, true)
	w, m := (seq>>6)&(chunkWords-1), uint64(1)<<(seq&63)
	return atomic.OrUint64(&c[w], m)&m != 0
}

// has reports whether seq is present.
func (b *bitset) has(seq uint64) bool {
	c := b.chunk(seq>>chunkShift, false)
	if c == nil {
		return false
	}
	w, m := (seq>>6)&(chunkWords-1), uint64(1)<<(seq&63)
	return atomic.LoadUint64(&c[w])&m != 0
}

func (b *bitset) chunk(i uint64, create bool) *chunk {
	if p := b.chunks.Load(); p != nil && i < uint64(len(*p)) && (*p)[i] != nil {
		return (*p)[i]
	}
	if !create {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var cur []*chunk
	if p := b.chunks.Load(); p != nil {
		cur = *p
	}
	if i < uint64(len(cur)) && cur[i] != nil {
		return cur[i]
	}
	next := make([]*chunk, max(uint64(len(cur)), i+1))
	copy(next, cur)
	next[i] = new(chunk)
	b.chunks.Store(&next)
	return next[i]
}

// count returns how many sequences are present. Not concurrent with set.
func (b *bitset) count() int64 {
	var n int64
	if p := b.chunks.Load(); p != nil {
		for _, c := range *p {
			if c == nil {
				continue
			}
			for _, w := range c {
				n += int64(bits.OnesCount64(w))
			}
		}
	}
	return n
}

// countAndNot returns how many sequences are in b but not in o. Not
// concurrent with set.
func (b *bitset) countAndNot(o *bitset) int64 {
	var n int64
	p := b.chunks.Load()
	if p == nil {
		return 0
	}
	var oc []*chunk
	if q := o.chunks.Load(); q != nil {
		oc = *q
	}
	for i, c := range *p {
		if c == nil {
			continue
		}
		var other *chunk
		if i < len(oc) {
			other = oc[i]
		}
		for j, w := range c {
			if other != nil {
				w &^= other[j]
			}
			n += int64(bits.OnesCount64(w))
		}
	}
	return n
}
