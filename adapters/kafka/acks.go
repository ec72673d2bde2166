package kafka

import "sort"

// ackTracker turns individual acknowledgements into Kafka commits. Kafka
// keeps one committed offset per partition and group, and committing offset
// o means "everything below o is done". So the tracker remembers, per
// partition, the deliveries not yet covered by a commit, in delivery order,
// and an ack yields a commit only for the end of the contiguous acknowledged
// prefix: an unacknowledged delivery holds back the later ones.
//
// When a partition is delivered again from an earlier offset (after a
// rebalance, the group resumes from the committed offset), the tracker
// forgets that partition's outstanding deliveries and starts a new epoch;
// acks of the old epoch are ignored, since those messages come again.
//
// An ackTracker is not safe for concurrent use.
type ackTracker struct {
	parts map[int]*partAcks
}

type partAcks struct {
	epoch   uint64
	last    int64 // last delivered offset; valid when any
	any     bool
	entries []ackEntry // outstanding deliveries, ascending offsets
}

type ackEntry struct {
	offset int64
	acked  bool
}

// ackToken is the Delivery.Token of the Kafka adapter.
type ackToken struct {
	owner     *consumer
	partition int
	offset    int64
	epoch     uint64
}

func newAckTracker() *ackTracker { return &ackTracker{parts: make(map[int]*partAcks)} }

// delivered records the delivery of partition's offset and returns its
// epoch.
func (t *ackTracker) delivered(partition int, offset int64) uint64 {
	s := t.parts[partition]
	if s == nil {
		s = &partAcks{}
		t.parts[partition] = s
	}
	if s.any && offset <= s.last {
		s.epoch++
		s.entries = nil
	}
	s.entries = append(s.entries, ackEntry{offset: offset})
	s.last, s.any = offset, true
	return s.epoch
}

// ack records the acknowledgement of partition's offset delivered in epoch.
// When that completes a prefix of the outstanding deliveries, it returns the
// offset to commit (one past the prefix) and true.
func (t *ackTracker) ack(partition int, offset int64, epoch uint64) (int64, bool) {
	s := t.parts[partition]
	if s == nil || s.epoch != epoch {
		return 0, false
	}
	e := s.entries
	i := sort.Search(len(e), func(i int) bool { return e[i].offset >= offset })
	if i == len(e) || e[i].offset != offset {
		return 0, false // already committed, or never delivered
	}
	e[i].acked = true
	n := 0
	for n < len(e) && e[n].acked {
		n++
	}
	if n == 0 {
		return 0, false
	}
	commit := e[n-1].offset + 1
	s.entries = e[n:]
	return commit, true
}

// outstanding counts deliveries not yet covered by a commit.
func (t *ackTracker) outstanding() int {
	n := 0
	for _, s := range t.parts {
		n += len(s.entries)
	}
	return n
}
