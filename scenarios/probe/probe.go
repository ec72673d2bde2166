// Package probe is mqbench's single measuring stick. Every scenario and the
// conformance suite measure through it, so every broker is judged the same
// way.
//
// A Stick belongs to one run. Each producer goroutine takes its own
// *Producer and each consumer goroutine its own *Consumer: their histograms
// are private (no locks on the hot path) and merged by Summary at the end.
// The ledger that detects loss and duplicates is shared per consumer group
// and lock-free (atomic bitsets of sequence numbers per producer).
//
// Definitions, per consumer group and producer:
//   - lost: confirmed by the broker but never received after the drain;
//   - duplicated: a delivery of a sequence the group had already received;
//   - reordered: a delivery below the highest sequence the receiving consumer
//     had already seen from that producer;
//   - unconfirmed: Send failed or was indeterminate; never counted as lost
//     (if it arrives anyway it counts as received);
//   - foreign: a body of another run, or not an envelope; ignored.
//
// Latency is measured from the intended send time (open-loop schedule), so a
// stalled broker cannot hide behind a stalled producer (coordinated
// omission). The uncorrected figure (from the actual send time) and the
// schedule delay (actual − intended) are kept too. Messages intended before
// the warm-up end are accounted but left out of latency and throughput.
package probe

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/report/result"
)

// Histogram range: 1 µs to 10 minutes, 3 significant digits, in ns.
const (
	histMin = int64(time.Microsecond)
	histMax = int64(10 * time.Minute)
	histSig = 3
)

// Latency names used in results.
const (
	Publish            = "publish"             // confirm − intended send time
	PublishUncorrected = "publish_uncorrected" // confirm − actual send time
	EndToEnd           = "end_to_end"          // receive − intended send time
	EndToEndUncorr     = "end_to_end_uncorrected"
	ScheduleDelay      = "schedule_delay" // actual − intended send time
)

// Options configure a Stick.
type Options struct {
	// RunID marks this run's messages; others are foreign.
	RunID uint64
	// Groups are the consumer groups that must each receive every message.
	Groups []string
	// Start is the origin of the timeline. Zero means now.
	Start time.Time
	// Warmup: messages intended before Start+Warmup are accounted but not
	// part of latency or throughput figures.
	Warmup time.Duration
	// Seconds sizes the timeline; later events land in the last second.
	// Zero means 3600. The timeline's memory is allocated as seconds are
	// used, not up front, so a large value costs nothing until reached.
	Seconds int
}

// Stick measures one run. Create it with New.
type Stick struct {
	opts      Options
	start     time.Time
	warmEndNs int64
	groups    map[string]*group
	order     []*group
	timeline  table[secondsChunk] // allocated as used; opts.Seconds long

	mu        sync.Mutex
	producers []*Producer
	consumers []*Consumer
	pledger   ledger // confirmed sequences per producer
	sentSeqs  ledger // sent sequences per producer

	foreign   atomic.Int64
	confirmed atomic.Int64 // running total, for Snapshot
	// receipts, once Receipts was called, is signalled after each
	// distinct message recorded.
	receipts atomic.Pointer[chan struct{}]
}

type second struct {
	sent, confirmed, received, errors atomic.Int64
}

// secondsChunk is the unit the timeline grows by.
type secondsChunk [secondsPerChunk]second

const secondsPerChunk = 64

type group struct {
	name       string
	ledger     ledger
	received   atomic.Int64
	deliveries atomic.Int64
	duplicated atomic.Int64
}

// ledger holds one bitset per producer id.
type ledger struct{ sets table[bitset] }

func (l *ledger) get(p uint32) *bitset { return l.sets.get(uint64(p), true) }

func (l *ledger) all() []*bitset { return l.sets.all() }

// New returns a Stick for one run.
func New(opts Options) *Stick {
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	if opts.Seconds <= 0 {
		opts.Seconds = 3600
	}
	s := &Stick{
		opts:      opts,
		start:     opts.Start,
		warmEndNs: opts.Start.Add(opts.Warmup).UnixNano(),
		groups:    map[string]*group{},
	}
	for _, g := range opts.Groups {
		gr := &group{name: g}
		s.groups[g] = gr
		s.order = append(s.order, gr)
	}
	return s
}

// RunID returns the run id messages of this run carry.
func (s *Stick) RunID() uint64 { return s.opts.RunID }

// Start returns the timeline origin.
func (s *Stick) Start() time.Time { return s.start }

func (s *Stick) slot(ns int64) *second {
	i := (ns - s.start.UnixNano()) / int64(time.Second)
	if i < 0 {
		i = 0
	}
	if i >= int64(s.opts.Seconds) {
		i = int64(s.opts.Seconds) - 1
	}
	return &s.timeline.get(uint64(i/secondsPerChunk), true)[i%secondsPerChunk]
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSig) }

func record(h *hdrhistogram.Histogram, ns int64) {
	if ns < histMin {
		ns = histMin
	}
	if ns > histMax {
		ns = histMax
	}
	_ = h.RecordValue(ns) // in range by construction
}

// Producer measures one producer goroutine. Not safe for concurrent use.
type Producer struct {
	s         *Stick
	id        uint32
	next      uint64
	confirmed *bitset
	sent      *bitset

	publish, publishRaw, schedule *hdrhistogram.Histogram

	nSent, nConfirmed, nRejected, nUnconfirmed int64
	nUnsent                                    int64
	measuredSent, measuredBytes                int64
	firstNs, lastNs                            int64
}

// Producer returns the probe of producer id (ids should be small and dense:
// 0..n-1). Each id must be used by one goroutine only.
func (s *Stick) Producer(id uint32) *Producer {
	p := &Producer{
		s: s, id: id,
		confirmed: s.pledger.get(id),
		sent:      s.sentSeqs.get(id),
		publish:   newHist(), publishRaw: newHist(), schedule: newHist(),
	}
	s.mu.Lock()
	s.producers = append(s.producers, p)
	s.mu.Unlock()
	return p
}

// ID returns the producer id.
func (p *Producer) ID() uint32 { return p.id }

// Stamp writes the envelope into body (len ≥ envelope.Size) with the next
// sequence, the intended send time and now as the actual send time, and
// returns the sequence. Call it just before Send.
func (p *Producer) Stamp(body []byte, intended time.Time, now time.Time) uint64 {
	seq := p.next
	p.next++
	envelope.Put(body, envelope.Header{
		RunID: p.s.opts.RunID, Producer: p.id, Seq: seq,
		SentNs: now.UnixNano(), IntendNs: intended.UnixNano(),
	})
	return seq
}

// Sent records the outcome of one Send of msgs (all stamped by this
// producer) that returned err at time at. It returns how many were
// confirmed and how many were definitely rejected (driver.ErrRejected).
func (p *Producer) Sent(msgs []driver.Message, err error, at time.Time) (confirmed, rejected int) {
	atNs := at.UnixNano()
	sl := p.s.slot(atNs)
	n := len(msgs)
	for i := range msgs {
		h, perr := envelope.Parse(msgs[i].Body)
		if perr != nil {
			continue // not stamped by Stamp: a caller bug, ignore
		}
		p.sent.set(h.Seq)
		p.nSent++
		measured := h.IntendNs >= p.s.warmEndNs
		if measured {
			p.measuredSent++
			p.measuredBytes += int64(len(msgs[i].Body))
			if p.firstNs == 0 || h.IntendNs < p.firstNs {
				p.firstNs = h.IntendNs
			}
			if atNs > p.lastNs {
				p.lastNs = atNs
			}
			record(p.schedule, h.SentNs-h.IntendNs)
		}
		if driver.Confirmed(err, n, i) {
			p.confirmed.set(h.Seq)
			p.nConfirmed++
			confirmed++
			if measured {
				record(p.publish, atNs-h.IntendNs)
				record(p.publishRaw, atNs-h.SentNs)
			}
			continue
		}
		p.nUnconfirmed++
		if errors.Is(driver.MessageErr(err, n, i), driver.ErrRejected) {
			p.nRejected++
			rejected++
		}
	}
	sl.sent.Add(int64(n))
	sl.confirmed.Add(int64(confirmed))
	sl.errors.Add(int64(n - confirmed))
	p.s.confirmed.Add(int64(confirmed))
	return confirmed, rejected
}

// Unsent records n messages the producer's open-loop schedule owed but
// never handed to Send (the schedule ended while the producer was behind).
func (p *Producer) Unsent(n int64) { p.nUnsent += n }

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

// Progress is a cheap snapshot for progress displays and drain loops; it may
// be called concurrently with recording.
type Progress struct {
	Confirmed int64 // confirmed so far (producers that reported)
	Received  int64 // distinct messages received, summed over groups
	Groups    int
}

// Remaining returns how many confirmed messages some group still lacks
// (summed over groups), counting every distinct message received: a lower
// bound, since a message received but never confirmed (its send failed
// after the broker stored it) counts too. It reaches 0 no later than
// Stick.Missing; use Stick.Drained to decide a drain is over.
func (p Progress) Remaining() int64 { return p.Confirmed*int64(p.Groups) - p.Received }

// Snapshot reads the running totals.
func (s *Stick) Snapshot() Progress {
	pr := Progress{Confirmed: s.confirmed.Load()}
	s.mu.Lock()
	for _, g := range s.order {
		pr.Received += g.received.Load()
	}
	pr.Groups = len(s.order)
	s.mu.Unlock()
	return pr
}

// Missing returns exactly how many confirmed messages some group has not
// received yet, summed over groups: unlike Progress.Remaining, a message
// received but never confirmed does not make up for a confirmed one still
// missing. It may run concurrently with recording; it reads every ledger
// (a word per 64 messages), so poll it only when Remaining is 0.
func (s *Stick) Missing() int64 {
	s.mu.Lock()
	groups := append([]*group(nil), s.order...)
	s.mu.Unlock()
	var n int64
	for _, g := range groups {
		n += s.missingIn(g)
	}
	return n
}

// Drained reports whether every group received every confirmed message.
func (s *Stick) Drained() bool { return s.Snapshot().Remaining() <= 0 && s.Missing() == 0 }

// missingIn counts the confirmed messages group g has not received.
func (s *Stick) missingIn(g *group) int64 {
	var n int64
	got := g.ledger.all()
	for pid, conf := range s.pledger.all() {
		if conf != nil {
			n += conf.countAndNot(setAt(got, pid))
		}
	}
	return n
}

// setAt returns sets[i], or nil past the end.
func setAt(sets []*bitset, i int) *bitset {
	if i < len(sets) {
		return sets[i]
	}
	return nil
}

// Summary is what a Stick measured.
type Summary struct {
	Accounting result.Accounting
	Latency    result.Latencies
	Throughput result.Throughput
	Timeline   []result.Second
	// PerGroup accounting, by group name.
	PerGroup map[string]result.Accounting
	// LostSample names up to MaxLostSample lost messages, lowest sequence
	// first per producer: "group g0: producer 1 message 53211 of 53350
	// sent", for a reader to place them in the run.
	LostSample []string
}

// MaxLostSample bounds Summary.LostSample.
const MaxLostSample = 10

// LostNote is a result note naming the first lost messages, or "" when
// none was lost.
func (s Summary) LostNote() string {
	if len(s.LostSample) == 0 {
		return ""
	}
	return fmt.Sprintf("lost (confirmed, never received), the first %d: %s", len(s.LostSample), strings.Join(s.LostSample, "; "))
}

// Summary merges every probe and computes the accounting. Call it once all
// producers and consumers have stopped. complete says the drain finished
// (false for an interrupted run).
func (s *Stick) Summary(complete bool) Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum Summary
	a := &sum.Accounting
	a.Groups = len(s.order)
	a.Complete = complete
	a.Foreign = s.foreign.Load()

	pub, pubRaw, sched := newHist(), newHist(), newHist()
	var measuredSent, measuredBytes, firstNs, lastSend int64
	sentBy := map[int]int64{}
	for _, p := range s.producers {
		sentBy[int(p.id)] += p.nSent
		a.Sent += p.nSent
		a.Confirmed += p.nConfirmed
		a.Unconfirmed += p.nUnconfirmed
		a.Rejected += p.nRejected
		a.Unsent += p.nUnsent
		pub.Merge(p.publish)
		pubRaw.Merge(p.publishRaw)
		sched.Merge(p.schedule)
		measuredSent += p.measuredSent
		measuredBytes += p.measuredBytes
		if p.firstNs != 0 && (firstNs == 0 || p.firstNs < firstNs) {
			firstNs = p.firstNs
		}
		lastSend = max(lastSend, p.lastNs)
	}
	e2e, e2eRaw := newHist(), newHist()
	var measuredRecv, lastRecv int64
	reordered := map[*group]int64{}
	for _, c := range s.consumers {
		a.Reordered += c.nReordered
		reordered[c.g] += c.nReordered
		e2e.Merge(c.e2e)
		e2eRaw.Merge(c.e2eRaw)
		measuredRecv += c.measuredRecv
		lastRecv = max(lastRecv, c.lastNs)
	}
	sum.PerGroup = map[string]result.Accounting{}
	confirmedSets := s.pledger.all()
	for _, g := range s.order {
		ga := result.Accounting{
			Sent: a.Sent, Confirmed: a.Confirmed, Unconfirmed: a.Unconfirmed, Rejected: a.Rejected,
			Received: g.received.Load(), Deliveries: g.deliveries.Load(),
			Duplicated: g.duplicated.Load(), Reordered: reordered[g], Groups: 1, Complete: complete,
		}
		ga.Lost = s.missingIn(g)
		got := g.ledger.all()
		for pid, conf := range confirmedSets {
			if conf == nil || ga.Lost == 0 {
				continue
			}
			for _, seq := range conf.firstAndNot(setAt(got, pid), MaxLostSample-len(sum.LostSample)) {
				sum.LostSample = append(sum.LostSample, fmt.Sprintf("group %s: producer %d message %d of %d sent", g.name, pid, seq, sentBy[pid]))
			}
		}
		sum.PerGroup[g.name] = ga
		a.Received += ga.Received
		a.Deliveries += ga.Deliveries
		a.Duplicated += ga.Duplicated
		a.Lost += ga.Lost
	}

	sum.Latency = result.Latencies{
		Publish:            summarize(pub, true),
		PublishUncorrected: summarize(pubRaw, false),
		EndToEnd:           summarize(e2e, true),
		EndToEndUncorr:     summarize(e2eRaw, false),
		ScheduleDelay:      summarize(sched, false),
	}
	if firstNs != 0 && lastSend > firstNs {
		secs := float64(lastSend-firstNs) / 1e9
		sum.Throughput.SentPerS = float64(measuredSent) / secs
		sum.Throughput.MBPerS = float64(measuredBytes) / secs / 1e6
	}
	if firstNs != 0 && lastRecv > firstNs {
		sum.Throughput.ReceivedPerS = float64(measuredRecv) / (float64(lastRecv-firstNs) / 1e9)
	}
	sum.Timeline = s.timelineLocked()
	return sum
}

func (s *Stick) timelineLocked() []result.Second {
	chunks := s.timeline.all()
	at := func(i int) *second {
		if c := chunks[i/secondsPerChunk]; c != nil {
			return &c[i%secondsPerChunk]
		}
		return nil
	}
	last := -1
	for i := range len(chunks) * secondsPerChunk {
		if t := at(i); t != nil && t.sent.Load()+t.received.Load()+t.confirmed.Load()+t.errors.Load() > 0 {
			last = i
		}
	}
	groups := int64(max(len(s.order), 1))
	out := make([]result.Second, 0, last+1)
	var cumConf, cumRecv int64
	for i := 0; i <= last; i++ {
		sec := result.Second{T: i}
		if t := at(i); t != nil {
			sec.Sent, sec.Confirmed, sec.Received, sec.Errors = t.sent.Load(), t.confirmed.Load(), t.received.Load(), t.errors.Load()
		}
		cumConf += sec.Confirmed
		cumRecv += sec.Received
		sec.Backlog = max(0, (cumConf*groups-cumRecv)/groups)
		out = append(out, sec)
	}
	return out
}

// Summarize turns a histogram of nanoseconds into a result.Latency in ms.
// Scenarios use it for their own latency figures.
func Summarize(h *hdrhistogram.Histogram) *result.Latency { return summarize(h, false) }

// NewHistogram returns a histogram with the Stick's range (ns, 1 µs to 10
// min, 3 significant digits) for scenario-specific latencies.
func NewHistogram() *hdrhistogram.Histogram { return newHist() }

// RecordNs records a duration in ns into h, clamped to the range.
func RecordNs(h *hdrhistogram.Histogram, ns int64) { record(h, ns) }

func summarize(h *hdrhistogram.Histogram, corrected bool) *result.Latency {
	ms := func(v int64) float64 { return float64(v) / 1e6 }
	l := &result.Latency{Count: h.TotalCount(), Unit: "ms", Corrected: corrected}
	if l.Count > 0 {
		l.P50 = ms(h.ValueAtQuantile(50))
		l.P90 = ms(h.ValueAtQuantile(90))
		l.P99 = ms(h.ValueAtQuantile(99))
		l.P999 = ms(h.ValueAtQuantile(99.9))
		l.Max = ms(h.Max())
		l.Mean = h.Mean() / 1e6
		if b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
			l.Histogram = base64.StdEncoding.EncodeToString(b)
		}
	}
	return l
}

// DecodeHistogram decodes a result.Latency's Histogram field.
func DecodeHistogram(s string) (*hdrhistogram.Histogram, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("histogram base64: %w", err)
	}
	h, err := hdrhistogram.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("histogram decode: %w", err)
	}
	return h, nil
}
