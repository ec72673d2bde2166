// Package svc holds the plumbing the business scenarios (async, decoupling,
// and any other that simulates services around a broker) share: an
// open-loop request dispatcher, a pool of producers that publish one message
// per request through the measuring stick, a consume loop, a readiness
// handshake that makes sure every consumer group is actually receiving
// before the clock starts, a capacity pacer, latency histograms, result
// helpers, and the small helpers every scenario needs once: a cancellable
// Sleep, WaitTimeout, AtomicMax and per-second Series.
//
// It uses only the driver contract and the probe, like the scenarios.
package svc

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/envelope"
)

// Body layout after the envelope: one kind byte, then the scenario's payload.
const (
	// KindOffset is the offset of the kind byte in a body.
	KindOffset = envelope.Size
	// PayloadOffset is where a scenario's own payload starts.
	PayloadOffset = envelope.Size + 1
	// KindPing marks a readiness ping: it carries this run's envelope but is
	// never recorded by the stick nor handled as business.
	KindPing byte = 0xFE
	// PingProducer is the envelope producer id of pings, outside the
	// stick's dense ids.
	PingProducer = math.MaxUint32
)

// Kind returns the kind byte of body, or 0 when the body is too short.
func Kind(body []byte) byte {
	if len(body) <= KindOffset {
		return 0
	}
	return body[KindOffset]
}

// Sleep waits d or until ctx is done; it returns ctx.Err() in the latter
// case. It simulates a service's work time.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WaitTimeout waits for wg at most d and reports whether it finished. On
// false a goroutine keeps waiting for wg in the background.
func WaitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Every calls fn with the tick's time every interval until ctx is done.
func Every(ctx context.Context, interval time.Duration, fn func(now time.Time)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fn(now)
		}
	}
}

// WaitUntil polls cond every poll until it holds (true), timeout passes
// (cond's last answer) or ctx is done (false).
func WaitUntil(ctx context.Context, timeout, poll time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
}
