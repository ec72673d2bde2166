package probe

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/envelope"
)

// Kind classifies a delivery.
type Kind int

// Delivery kinds returned by Consumer.Record.
const (
	First     Kind = iota // first delivery of this message to this group
	Duplicate             // the group had received it before
	Foreign               // another run's message or not an envelope
)

// Consumer measures one consumer goroutine of one group. Not safe for
// concurrent use.
type Consumer struct {
	s       *Stick
	g       *group
	highest []int64 // per producer: highest seq seen + 1 (0 = none)

	e2e, e2eRaw *hdrhistogram.Histogram

	nReordered, measuredRecv int64
	lastNs                   int64
}

// Consumer returns a probe for one consumer goroutine of group (which must
// be one of Options.Groups; an unknown group is added).
func (s *Stick) Consumer(groupName string) *Consumer {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupName]
	if g == nil {
		g = &group{name: groupName}
		s.groups[groupName] = g
		s.order = append(s.order, g)
	}
	c := &Consumer{s: s, g: g, e2e: newHist(), e2eRaw: newHist()}
	s.consumers = append(s.consumers, c)
	return c
}

// Record accounts one delivered body received at time at and returns its
// header and kind. Bodies of other runs are counted as foreign and ignored.
func (c *Consumer) Record(body []byte, at time.Time) (envelope.Header, Kind) {
	h, err := envelope.Parse(body)
	if err != nil || h.RunID != c.s.opts.RunID {
		c.s.foreign.Add(1)
		return h, Foreign
	}
	atNs := at.UnixNano()
	c.g.deliveries.Add(1)
	if c.g.ledger.get(h.Producer).set(h.Seq) {
		c.g.duplicated.Add(1)
		return h, Duplicate
	}
	c.g.received.Add(1)
	if ch := c.s.receipts.Load(); ch != nil {
		select {
		case *ch <- struct{}{}:
		default:
		}
	}
	if int(h.Producer) >= len(c.highest) {
		c.highest = append(c.highest, make([]int64, int(h.Producer)+1-len(c.highest))...)
	}
	if int64(h.Seq)+1 < c.highest[h.Producer] {
		c.nReordered++
	} else {
		c.highest[h.Producer] = int64(h.Seq) + 1
	}
	c.s.slot(atNs).received.Add(1)
	if h.IntendNs >= c.s.warmEndNs {
		c.measuredRecv++
		if atNs > c.lastNs {
			c.lastNs = atNs
		}
		record(c.e2e, atNs-h.IntendNs)
		record(c.e2eRaw, atNs-h.SentNs)
	}
	return h, First
}

// Receipts returns a channel that holds a value after a consumer recorded
// a distinct message since the value was last taken (one pending at most,
// so a consumer never blocks on it): a closed loop waits on it instead of
// polling Snapshot. Every call returns the same channel.
func (s *Stick) Receipts() <-chan struct{} {
	ch := make(chan struct{}, 1)
	if s.receipts.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *s.receipts.Load()
}
