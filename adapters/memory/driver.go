package memory

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/mqbench/mqbench/adapters/driver"
)

type closer interface{ Close() error }

// Driver is one connection to a Broker. It implements driver.Driver,
// driver.DepthReader, driver.Transactor and driver.BlockReporter, and is
// safe for concurrent use.
type Driver struct {
	b       *Broker
	cfg     driver.Config
	profile driver.Profile
	epoch   uint64

	mu     sync.Mutex
	closed bool
	open   map[closer]struct{} // producers, consumers, tx producers

	blocks blockLog // flow-control waits (BlockEvents)
}

var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.DepthReader = (*Driver)(nil)
	_ driver.Transactor  = (*Driver)(nil)
)

// Capabilities is what the memory driver declares (and the conformance suite
// verifies).
func Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Nack:               true,
		RedeliveryFlag:     true,
		PerKeyOrder:        true,
		CompetingConsumers: true,
		FanOut:             true,
		Replay:             false,
		Persistent:         true,
		MaxLengthReject:    true,
		NativeTransaction:  true,
		Depth:              true,
		MaxBatch:           0,
	}
}

// Info describes the driver. No I/O.
func (d *Driver) Info() driver.Info {
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	return driver.Info{
		Name:          "memory",
		Title:         "in-memory reference",
		Client:        "github.com/mqbench/mqbench/adapters/memory",
		ClientVersion: version,
		Protocol:      "in-process",
		BrokerVersion: version,
		Capabilities:  Capabilities(),
	}
}

// Broker returns the broker d is connected to.
func (d *Driver) Broker() *Broker { return d.b }

// check returns why d cannot be used, or nil.
func (d *Driver) check() error {
	if d.b.epoch.Load() != d.epoch {
		return errRestarted
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return fmt.Errorf("memory: driver: %w", driver.ErrClosed)
	}
	return nil
}

// track registers c for Driver.Close; it fails when d is closed.
func (d *Driver) track(c closer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("memory: driver: %w", driver.ErrClosed)
	}
	d.open[c] = struct{}{}
	return nil
}

func (d *Driver) untrack(c closer) {
	d.mu.Lock()
	delete(d.open, c)
	d.mu.Unlock()
}

func validName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

func validate(dest driver.Destination) error {
	if !validName(dest.Name) {
		return fmt.Errorf("memory: invalid destination name %q (letters, digits, '-', '_', '.')", dest.Name)
	}
	if len(dest.Groups) == 0 {
		return fmt.Errorf("memory: destination %q: no groups", dest.Name)
	}
	for _, g := range dest.Groups {
		if g == "" {
			return fmt.Errorf("memory: destination %q: empty group name", dest.Name)
		}
	}
	if dest.MaxLength < 0 || dest.Partitions < 0 {
		return fmt.Errorf("memory: destination %q: negative max length or partitions", dest.Name)
	}
	return nil
}

// Provision creates dest and its groups; it is idempotent, and a repeated
// call adds groups not yet present (they receive messages sent from then on).
// Provisioning an existing destination with a different MaxLength fails. The
// cleanup deletes the destination with all its groups; consumers and
// producers on it then fail with errors wrapping driver.ErrClosed.
func (d *Driver) Provision(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	if err := validate(dest); err != nil {
		return nil, err
	}
	b := d.b
	b.mu.Lock()
	ds := b.dests[dest.Name]
	if ds == nil {
		ds = &topic{
			name:      dest.Name,
			start:     b.start,
			txps:      make(map[*txProducer]struct{}),
			maxLength: dest.MaxLength,
			groups:    make(map[string]*group),
			producers: make(map[*producer]struct{}),
			flowLimit: b.opts.flowLimit(),
			space:     make(chan struct{}),
		}
		b.dests[dest.Name] = ds
	}
	ds.mu.Lock()
	if ds.maxLength != dest.MaxLength {
		ds.mu.Unlock()
		b.mu.Unlock()
		return nil, fmt.Errorf("memory: destination %q exists with max length %d, not %d", dest.Name, ds.maxLength, dest.MaxLength)
	}
	for _, name := range dest.Groups {
		if ds.groups[name] == nil {
			g := newGroup(name)
			ds.groups[name] = g
			ds.order = append(ds.order, g)
		}
	}
	ds.mu.Unlock()
	b.mu.Unlock()

	cleanup := func(context.Context) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.dests[ds.name] == ds {
			delete(b.dests, ds.name)
		}
		ds.mu.Lock()
		ds.deleteLocked()
		ds.mu.Unlock()
		return nil
	}
	return cleanup, nil
}

// lookup returns the provisioned destination named dest.Name.
func (d *Driver) lookup(dest driver.Destination) (*topic, error) {
	d.b.mu.Lock()
	ds := d.b.dests[dest.Name]
	d.b.mu.Unlock()
	if ds == nil {
		return nil, fmt.Errorf("memory: destination %q not provisioned", dest.Name)
	}
	return ds, nil
}

// Depth returns the number of messages waiting for delivery in group's queue
// (delayed ones included, delivered but unacked ones excluded).
func (d *Driver) Depth(ctx context.Context, dest driver.Destination, group string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := d.check(); err != nil {
		return 0, err
	}
	ds, err := d.lookup(dest)
	if err != nil {
		return 0, err
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	g := ds.groups[group]
	if g == nil || ds.deleted {
		return 0, fmt.Errorf("memory: destination %q has no group %q", dest.Name, group)
	}
	return int64(g.waiting()), nil
}

// Close closes every producer and consumer still open on d. Idempotent.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	open := make([]closer, 0, len(d.open))
	for c := range d.open {
		open = append(open, c)
	}
	d.mu.Unlock()
	var errs []error
	for _, c := range open {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Durability implements driver.DurabilityReader: the memory broker keeps
// messages in this process only, whatever the profile; its simulated disk
// is what survives Broker.Restart, so a confirm counts as synced to it.
func (d *Driver) Durability(ctx context.Context, dest driver.Destination) (driver.Durability, error) {
	if _, err := d.lookup(dest); err != nil {
		return driver.Durability{}, err
	}
	return driver.Durability{
		Promise:  "stored in the in-process broker, which keeps it across a simulated restart; nothing reaches a real disk",
		Synced:   true,
		Replicas: 1,
		Settings: map[string]string{"storage": "memory"}, Source: "the in-process broker", Verified: true,
	}, nil
}
