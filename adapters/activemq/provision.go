package activemq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Provision makes sure every group queue of dest exists, so the broker copies
// each message sent to the virtual topic into it from now on, even before
// the group's consumers subscribe. It subscribes to each queue with a
// selector no message matches (nothing is dispatched, nothing is taken),
// waits for the receipt, and unsubscribes. It is idempotent.
//
// MaxLength > 0 fails with errors.ErrUnsupported: ActiveMQ has no per-queue
// message count limit that refuses a send over STOMP (its memory and store
// limits block or fail producers by bytes, for the whole broker or
// destination, not by count).
//
// The returned cleanup cannot delete the queues (STOMP has no command for
// it); it drains them: it consumes and acknowledges whatever is left in each
// group queue until the queue stays quiet briefly or ctx is done.
func (d *Driver) Provision(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if err := checkDest(dest); err != nil {
		return nil, err
	}
	if dest.MaxLength > 0 {
		return nil, fmt.Errorf("activemq: max length %d: no reject-on-full queue limit over STOMP: %w", dest.MaxLength, errors.ErrUnsupported)
	}
	if dest.Unreplicated {
		return nil, fmt.Errorf("activemq: an unreplicated destination: a shared-store pair protects every destination through its one store: %w", errors.ErrUnsupported)
	}
	if d.isClosed() {
		return nil, fmt.Errorf("activemq: driver %w", driver.ErrClosed)
	}
	c, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for _, g := range dest.Groups {
		q := groupQueue(dest.Name, g)
		sid := c.NewID("p")
		c.Subscribe(sid)
		sub := frame.New(frame.SUBSCRIBE,
			frame.Destination, q,
			frame.Id, sid,
			frame.Ack, "client-individual",
			hdrSelector, neverSelector,
			hdrPrefetch, "1")
		if err := c.RoundTrip(ctx, sub); err != nil {
			return nil, fmt.Errorf("activemq: provision %s: %w", q, err)
		}
		if err := c.RoundTrip(ctx, frame.New(frame.UNSUBSCRIBE, frame.Id, sid)); err != nil {
			return nil, fmt.Errorf("activemq: provision %s: unsubscribe: %w", q, err)
		}
		c.UnsubscribeLocal(sid)
	}
	groups := append([]string(nil), dest.Groups...)
	cleanup := func(ctx context.Context) error {
		return d.drain(ctx, dest.Name, groups)
	}
	return cleanup, nil
}

// drainQuiet is how long a queue must stay silent before drain moves on.
const drainQuiet = 300 * time.Millisecond

// drain consumes and acknowledges what is left in the group queues of name.
func (d *Driver) drain(ctx context.Context, name string, groups []string) error {
	c, err := d.connect(ctx)
	if err != nil {
		return fmt.Errorf("activemq: cleanup: %w", err)
	}
	defer c.Close()
	for _, g := range groups {
		q := groupQueue(name, g)
		sid := c.NewID("d")
		sq := c.Subscribe(sid)
		// ack:auto: the broker drops each message as it is dispatched.
		sub := frame.New(frame.SUBSCRIBE,
			frame.Destination, q,
			frame.Id, sid,
			frame.Ack, "auto",
			hdrPrefetch, "1000")
		if err := c.RoundTrip(ctx, sub); err != nil {
			return fmt.Errorf("activemq: cleanup %s: %w", q, err)
		}
		t := time.NewTimer(drainQuiet)
	loop:
		for {
			select {
			case <-sq.Signal():
				fs, err := sq.Take(1 << 20)
				if err != nil {
					t.Stop()
					return fmt.Errorf("activemq: cleanup %s: %w", q, err)
				}
				if len(fs) > 0 {
					t.Reset(drainQuiet)
				}
			case <-t.C:
				break loop
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("activemq: cleanup %s: %w", q, ctx.Err())
			}
		}
		if err := c.RoundTrip(ctx, frame.New(frame.UNSUBSCRIBE, frame.Id, sid)); err != nil {
			return fmt.Errorf("activemq: cleanup %s: unsubscribe: %w", q, err)
		}
		c.UnsubscribeLocal(sid)
	}
	return nil
}
