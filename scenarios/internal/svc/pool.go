package svc

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Pool is a fixed set of producers on one destination, each paired with its
// own probe producer, shared by many request goroutines: Publish takes a
// free producer, so at most Size sends are in flight. Its methods are safe
// for concurrent use; Close must not race with Publish.
type Pool struct {
	free  chan *slot
	slots []*slot
	bound atomic.Bool
}

type slot struct {
	p    driver.Producer
	pr   *probe.Producer
	key  []byte
	msgs [1]driver.Message
	ping uint64
}

// OpenPool opens n producers on dest (already provisioned). Bind must be
// called before Publish.
func OpenPool(ctx context.Context, d driver.Driver, dest driver.Destination, n int) (*Pool, error) {
	pool := &Pool{free: make(chan *slot, n)}
	for i := range n {
		p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{MaxInFlight: 1})
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("producer %d of %s: %w", i, dest.Name, err)
		}
		s := &slot{p: p, key: []byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}}
		pool.slots = append(pool.slots, s)
		pool.free <- s
	}
	return pool, nil
}

// Size is the number of producers.
func (p *Pool) Size() int { return len(p.slots) }

// Bind gives producer i the stick's probe producer i. Call it once, before
// the first Publish and while no Ping runs.
func (p *Pool) Bind(st *probe.Stick) {
	for i, s := range p.slots {
		s.pr = st.Producer(uint32(i))
	}
	p.bound.Store(true)
}

func (p *Pool) take(ctx context.Context) (*slot, error) {
	select {
	case s := <-p.free:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Publish stamps body (which must hold at least the envelope; the caller
// owns the rest and must not touch body until Publish returns) with the
// intended request time, sends it alone, records the outcome in the stick
// and returns nil once the broker confirmed it. It blocks while every
// producer is busy, and until the confirmation or ctx is done.
func (p *Pool) Publish(ctx context.Context, body []byte, intended time.Time) error {
	if !p.bound.Load() {
		return errors.New("svc: Publish before Bind")
	}
	s, err := p.take(ctx)
	if err != nil {
		return err
	}
	defer func() { p.free <- s }()
	s.pr.Stamp(body, intended, time.Now())
	s.msgs[0] = driver.Message{Key: s.key, Body: body}
	err = s.p.Send(ctx, s.msgs[:])
	s.pr.Sent(s.msgs[:], err, time.Now())
	s.msgs[0] = driver.Message{}
	return err
}

// Ping sends one readiness ping of size bytes (KindPing, this run's id,
// producer PingProducer) through a free producer. It is not recorded.
func (p *Pool) Ping(ctx context.Context, runID uint64, size int) error {
	s, err := p.take(ctx)
	if err != nil {
		return err
	}
	defer func() { p.free <- s }()
	now := time.Now()
	body := envelope.New(max(size, PayloadOffset), envelope.Header{
		RunID: runID, Producer: PingProducer, Seq: s.ping, SentNs: now.UnixNano(), IntendNs: now.UnixNano(),
	})
	s.ping++
	body[KindOffset] = KindPing
	return s.p.Send(ctx, []driver.Message{{Key: s.key, Body: body}})
}

// Close closes every producer.
func (p *Pool) Close() {
	for _, s := range p.slots {
		s.p.Close()
	}
}
