package rabbitmq

import (
	"slices"
	"sync"
)

// Consumer groups on streams. AMQP 0.9.1 gives a stream consumer no
// server-side position, so the Driver keeps one per group and partition, in
// memory, and shares a group's partitions among the group's consumers of
// this Driver. Nothing of it survives the process.

// groupKey names a group of a destination.
type groupKey struct{ dest, group string }

// groupBook holds the groups a stream Driver knows.
type groupBook struct {
	mu     sync.Mutex
	groups map[groupKey]*groupState
}

// group returns the state of group on dest, creating it with partitions
// partitions (whose position is the stream's first message) when unknown.
func (b *groupBook) group(dest, group string, partitions int) *groupState {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := groupKey{dest, group}
	if g, ok := b.groups[k]; ok {
		return g
	}
	g := &groupState{parts: make([]partPos, partitions), changed: make(chan struct{})}
	for i := range g.parts {
		g.parts[i] = partPos{start: firstOffset, maxAcked: -1}
	}
	b.groups[k] = g
	return g
}

// forget drops the positions of groups on dest (its streams were deleted).
func (b *groupBook) forget(dest string, groups []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, g := range groups {
		delete(b.groups, groupKey{dest, g})
	}
}

// firstOffset marks a position that is the first message the stream retains.
const firstOffset = -1

// partPos is a group's position in one partition stream.
type partPos struct {
	start    int64              // where the last subscription started (firstOffset: "first")
	inflight map[int64]struct{} // offsets delivered since then and not acked
	maxAcked int64              // highest offset acked, -1 for none
}

// position is where a new subscription must start: the lowest offset
// delivered and not acked, else the one after the highest acked, else where
// the last subscription started.
func (p *partPos) position() int64 {
	if len(p.inflight) > 0 {
		low := int64(-1)
		for o := range p.inflight {
			if low < 0 || o < low {
				low = o
			}
		}
		return low
	}
	if p.maxAcked >= 0 && p.maxAcked+1 > p.start {
		return p.maxAcked + 1
	}
	return p.start
}

// groupState is one group: its positions and its consumers in join order.
// Partition i belongs to members[i % len(members)].
type groupState struct {
	mu      sync.Mutex
	parts   []partPos
	members []*streamConsumer
	changed chan struct{} // closed (and replaced) when members change
}

// join adds c to the group; every member's assignment may change.
func (g *groupState) join(c *streamConsumer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.members = append(g.members, c)
	g.bump()
}

// leave removes c from the group.
func (g *groupState) leave(c *streamConsumer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.members, c); i >= 0 {
		g.members = slices.Delete(g.members, i, i+1)
		g.bump()
	}
}

// bump tells every member that the assignment changed. g.mu is held.
func (g *groupState) bump() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// assignment returns the partitions of c and the channel closed at the next
// change of members.
func (g *groupState) assignment(c *streamConsumer) ([]int, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []int
	for i := range g.parts {
		if g.ownerLocked(i) == c {
			out = append(out, i)
		}
	}
	return out, g.changed
}

// ownerLocked is the member partition i belongs to (nil without members).
func (g *groupState) ownerLocked(i int) *streamConsumer {
	if len(g.members) == 0 {
		return nil
	}
	return g.members[i%len(g.members)]
}

// subscribe returns where a new subscription of partition i starts and
// records it: deliveries still in flight from an earlier subscription come
// again from there.
func (g *groupState) subscribe(i int) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := &g.parts[i]
	pos := p.position()
	p.start = pos
	p.inflight = map[int64]struct{}{}
	if pos >= 0 {
		p.maxAcked = pos - 1
	}
	return pos
}

// delivered records offsets of partition parts[k] handed to c, and reports
// for each whether c still owns its partition (a delivery of a partition
// reassigned meanwhile is dropped: its new owner reads it again).
func (g *groupState) delivered(c *streamConsumer, parts []int, offs []int64) []bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	keep := make([]bool, len(parts))
	for k, i := range parts {
		if i < 0 || i >= len(g.parts) || g.ownerLocked(i) != c {
			continue
		}
		keep[k] = true
		if offs[k] >= 0 {
			g.parts[i].inflight[offs[k]] = struct{}{}
		}
	}
	return keep
}

// acked records processed offsets of partition parts[k].
func (g *groupState) acked(parts []int, offs []int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, i := range parts {
		if i < 0 || i >= len(g.parts) || offs[k] < 0 {
			continue
		}
		p := &g.parts[i]
		delete(p.inflight, offs[k])
		p.maxAcked = max(p.maxAcked, offs[k])
	}
}
