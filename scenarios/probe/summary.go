package probe

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/report/result"
)

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
