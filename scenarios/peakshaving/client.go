package peakshaving

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// gate is the application admission gate: a counter of admitted, not yet
// processed requests, reserved before the send so that it never exceeds
// limit. With the broker gate (app false) it is unused.
type gate struct {
	app    bool
	limit  int64
	inGate atomic.Int64 // reserved slots
}

// reserve takes a slot; false means the queue is full.
func (g *gate) reserve() bool {
	for {
		cur := g.inGate.Load()
		if cur >= g.limit {
			return false
		}
		if g.inGate.CompareAndSwap(cur, cur+1) {
			return true
		}
	}
}

// release frees a slot taken by reserve.
func (g *gate) release() { g.inGate.Add(-1) }

// client sends the requests with index ≡ i (mod clients), each at its
// intended arrival time, and answers each one exactly once.
func (r *run) client(ctx context.Context, i int, p driver.Producer, pr *probe.Producer, rate float64, h *clientHists) {
	clients := r.c.Producers
	body := make([]byte, r.c.Size)
	key := binary.BigEndian.AppendUint32(nil, uint32(i))
	msgs := []driver.Message{{Key: key, Body: body}}
	for k := i; k < r.c.Requests; k += clients {
		intended := r.start.Add(time.Duration(float64(k) / rate * 1e9))
		if svc.Sleep(ctx, time.Until(intended)) != nil {
			return
		}
		r.stats.issued.Add(1)
		r.input.Add(intended, 1)
		taken := time.Now()
		if r.gate.app {
			if !r.gate.reserve() {
				r.stats.rejected.Add(1)
				h.recordReject(intended, taken, time.Now())
				continue
			}
			r.states[k].Store(stReserved)
		}
		pr.Stamp(body, intended, time.Now())
		binary.BigEndian.PutUint64(body[envelope.Size:], uint64(k))
		err := p.Send(ctx, msgs)
		now := time.Now()
		confirmed, rejected := pr.Sent(msgs, err, now)
		switch {
		case confirmed == 1:
			r.admit(k, h, intended, taken, now)
		case rejected == 1:
			r.stats.rejected.Add(1)
			h.recordReject(intended, taken, now)
		default:
			r.sendFailed(ctx, k, err)
		}
	}
}

// admit answers request k "accepted": the broker confirmed its admission
// at now.
func (r *run) admit(k int, h *clientHists, intended, taken, now time.Time) {
	r.stats.accepted.Add(1)
	probe.RecordNs(h.accept, now.Sub(intended).Nanoseconds())
	probe.RecordNs(h.acceptSvc, now.Sub(taken).Nanoseconds())
	r.stats.admitted.Add(1)
	if !r.states[k].CompareAndSwap(stReserved, stAdmitted) && !r.states[k].CompareAndSwap(stNew, stAdmitted) {
		// The sale service processed it before the confirm came back.
		r.stats.done.Add(1)
	}
	r.observeDepth(now)
}

// sendFailed accounts request k whose send ended with neither a confirm
// nor a reject, and frees its gate slot.
func (r *run) sendFailed(ctx context.Context, k int, err error) {
	if ctx.Err() != nil {
		r.stats.interrupted.Add(1) // Ctrl-C while the send was in flight
	} else {
		r.stats.failed.Add(1)
		r.stats.noteErr(fmt.Errorf("request %d: %w", k, err))
	}
	if r.gate.app && r.states[k].CompareAndSwap(stReserved, stFailed) {
		r.gate.release()
	}
}

// clientHists are one client's response-time histograms (ns).
type clientHists struct {
	accept, reject       *hdrhistogram.Histogram // from the intended arrival
	acceptSvc, rejectSvc *hdrhistogram.Histogram // from taking the request up
}

func newClientHists() *clientHists {
	return &clientHists{probe.NewHistogram(), probe.NewHistogram(), probe.NewHistogram(), probe.NewHistogram()}
}

// recordReject records a "sold out" answer given at now.
func (h *clientHists) recordReject(intended, taken, now time.Time) {
	probe.RecordNs(h.reject, now.Sub(intended).Nanoseconds())
	probe.RecordNs(h.rejectSvc, now.Sub(taken).Nanoseconds())
}

func (h *clientHists) merge(o *clientHists) {
	h.accept.Merge(o.accept)
	h.reject.Merge(o.reject)
	h.acceptSvc.Merge(o.acceptSvc)
	h.rejectSvc.Merge(o.rejectSvc)
}
