package svc

import (
	"context"
	"sync"
	"time"
)

// Pacer limits a service to a capacity of n operations per second: each
// Wait reserves the next free slot (1/n apart) and sleeps until it. Safe
// for concurrent use. A nil *Pacer or one with n <= 0 never waits.
type Pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// NewPacer returns a pacer of perSecond operations per second (0 = no limit).
func NewPacer(perSecond float64) *Pacer {
	if perSecond <= 0 {
		return nil
	}
	return &Pacer{interval: time.Duration(float64(time.Second) / perSecond)}
}

// Wait blocks until the caller's slot, or ctx is done.
func (p *Pacer) Wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.interval)
	p.mu.Unlock()
	return Sleep(ctx, time.Until(at))
}
