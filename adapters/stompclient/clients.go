package stompclient

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Clients is the set of a driver's open producers and consumers, so that
// the driver's Close closes them all. The zero value is ready; Broker
// names the adapter in its errors.
type Clients struct {
	Broker string

	mu     sync.Mutex
	open   map[io.Closer]struct{}
	closed bool
}

// Track remembers c; it fails with driver.ErrClosed once CloseAll ran.
func (cs *Clients) Track(c io.Closer) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return fmt.Errorf("%s: driver %w", cs.Broker, driver.ErrClosed)
	}
	if cs.open == nil {
		cs.open = map[io.Closer]struct{}{}
	}
	cs.open[c] = struct{}{}
	return nil
}

// Untrack forgets c (it closed by itself).
func (cs *Clients) Untrack(c io.Closer) {
	cs.mu.Lock()
	delete(cs.open, c)
	cs.mu.Unlock()
}

// Closed reports whether CloseAll ran.
func (cs *Clients) Closed() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.closed
}

// CloseAll closes every client still open, in parallel (each Close may
// wait briefly for a receipt), and refuses later Tracks. It is idempotent.
func (cs *Clients) CloseAll() error {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return nil
	}
	cs.closed = true
	open := cs.open
	cs.open = nil
	cs.mu.Unlock()
	errs := make(chan error, len(open))
	var wg sync.WaitGroup
	for c := range open {
		wg.Go(func() { errs <- c.Close() })
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
