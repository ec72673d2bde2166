package svc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Ready records which consumer groups have received a ping. Safe for
// concurrent use.
type Ready struct {
	mu   sync.Mutex
	seen map[string]bool
}

// Mark notes that group received a ping.
func (r *Ready) Mark(group string) {
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[group] = true
	r.mu.Unlock()
}

// Missing returns the groups that have not received a ping yet.
func (r *Ready) Missing(groups []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, g := range groups {
		if !r.seen[g] {
			out = append(out, g)
		}
	}
	return out
}

// WaitReady sends a ping every 200 ms until every group has received one
// (the consumers mark r), so the clock starts only once each group is
// actually receiving (a Kafka or RocketMQ group can take seconds to join).
// It fails when timeout passes first, or ctx is done.
func WaitReady(ctx context.Context, pool *Pool, runID uint64, size int, r *Ready, groups []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		if len(r.Missing(groups)) == 0 {
			return nil
		}
		if err := pool.Ping(ctx, runID, size); err != nil && ctx.Err() == nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if missing := r.Missing(groups); len(missing) > 0 {
				if lastErr != nil {
					return fmt.Errorf("consumer groups %v received no ping within %s (last send error: %w)", missing, timeout, lastErr)
				}
				return fmt.Errorf("consumer groups %v received no ping within %s: %w", missing, timeout, ctx.Err())
			}
			return nil
		case <-tick.C:
		}
	}
}

// ReadyOptions tune AwaitGroups.
type ReadyOptions struct {
	RunID   uint64        // this run's id, carried by the pings
	Size    int           // ping body size
	Batch   int           // most deliveries per Receive
	Groups  []string      // every group that must receive
	Timeout time.Duration // bound on the whole handshake
}

// AwaitGroups is the readiness handshake of a service scenario: it runs a
// ping-only Consume on every consumer (cons[i] belongs to group
// groupOf(i)) and pings through pool (WaitReady) until every group of
// opts received one, then stops those loops and returns. The consumers
// stay open for the business loops. A business message arriving meanwhile
// is nacked. recv stops the ping loops gracefully, ctx abandons them.
func AwaitGroups(ctx, recv context.Context, pool *Pool, cons []driver.Consumer, groupOf func(i int) string, opts ReadyOptions) error {
	ready := &Ready{}
	pingCtx, stopPing := context.WithCancel(recv)
	var wg sync.WaitGroup
	for i, cn := range cons {
		g := groupOf(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = Consume(pingCtx, ctx, cn, nil, ConsumeOptions{Group: g, Batch: opts.Batch, Ready: ready}, nil)
		}()
	}
	err := WaitReady(ctx, pool, opts.RunID, opts.Size, ready, opts.Groups, opts.Timeout)
	stopPing()
	wg.Wait()
	return err
}
