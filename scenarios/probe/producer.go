package probe

import (
	"errors"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
)

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
