package decoupling

import (
	"context"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// startConsumer runs the consume loop of lc. consMu must be held.
func (r *run) startConsumer(ctx context.Context, lc *liveConsumer) {
	work, kill := context.WithCancel(ctx)
	lc.kill = kill
	pr := r.st.Consumer(Group)
	r.cwg.Add(1)
	go func() {
		defer r.cwg.Done()
		err := svc.Consume(r.recvCtx, work, lc.c, pr, svc.ConsumeOptions{Group: Group, Batch: r.c.Batch, Parallel: 1}, r.handle)
		if err != nil && work.Err() == nil {
			r.consMu.Lock()
			r.consErrs = append(r.consErrs, err)
			r.consMu.Unlock()
		}
	}()
}

// killConsumers abandons the inventory consumers' work and closes their
// subscriptions, as if the process died.
func (r *run) killConsumers() {
	r.consMu.Lock()
	live := r.running
	r.running = nil
	r.consMu.Unlock()
	for _, lc := range live {
		if lc.kill != nil {
			lc.kill()
		}
		lc.c.Close()
	}
}

// outage takes mode m's inventory down at m.downAt and back at m.upAt.
func (r *run) outage(ctx context.Context, m *mode) {
	if svc.Sleep(ctx, time.Until(m.downAt)) != nil {
		return
	}
	down := time.Now()
	switch m.name {
	case Direct:
		r.httpInv.Stop()
	case MQ:
		r.killConsumers()
	}
	r.env.Log.Info("inventory down", "mode", m.name)
	err := svc.Sleep(ctx, time.Until(m.upAt))
	up := time.Now()
	r.outageMu.Lock()
	r.outages = append(r.outages, [2]time.Time{down, up})
	r.outageMu.Unlock()
	if err != nil {
		return
	}
	switch m.name {
	case Direct:
		if err := r.httpInv.Start(); err != nil {
			r.note("inventory HTTP service did not come back: %v", err)
		}
	case MQ:
		r.recoverConsumers(ctx, m)
	}
	r.env.Log.Info("inventory up", "mode", m.name)
}

// recoverConsumers subscribes new inventory consumers, retrying every 500 ms
// until the mode's end plus the drain bound.
func (r *run) recoverConsumers(ctx context.Context, m *mode) {
	deadline := m.end.Add(r.c.Drain)
	for n := 0; n < r.c.Consumers; {
		cctx, cancel := context.WithDeadline(ctx, deadline)
		cn, err := r.env.Driver.NewConsumer(cctx, r.dest, driver.ConsumerOptions{Group: Group, Prefetch: r.c.Batch})
		cancel()
		if err != nil {
			if ctx.Err() != nil || time.Now().After(deadline) {
				r.note("inventory consumer could not resubscribe: %v", err)
				return
			}
			if svc.Sleep(ctx, 500*time.Millisecond) != nil {
				return
			}
			continue
		}
		lc := &liveConsumer{c: cn}
		r.consMu.Lock()
		r.running = append(r.running, lc)
		r.startConsumer(ctx, lc)
		r.consMu.Unlock()
		n++
	}
}
