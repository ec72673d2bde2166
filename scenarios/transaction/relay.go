package transaction

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// relayer is the message-table relay's state; only the relay goroutine
// uses it.
type relayer struct {
	r         *run
	p         driver.Producer // nil until (re)opened
	pr        *probe.Producer // p's probe producer
	bufs      [][]byte
	msgs      []driver.Message
	publishes int // publishes the broker confirmed at least in part
}

// relay publishes due message-table rows until ctx is done.
func (r *run) relay(ctx context.Context) {
	rl := &relayer{r: r}
	defer rl.drop()
	tick := time.NewTicker(r.c.ScanInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if rl.p == nil {
			np, err := r.env.Driver.NewProducer(ctx, r.deduct, driver.ProducerOptions{})
			if err != nil {
				if ctx.Err() == nil {
					r.noteErr("relay producer", err)
				}
				continue
			}
			// A restarted relay is a new producer: new ids, sequences from 0.
			rl.p, rl.pr = np, r.dst.Producer(r.dIDs.Add(1)-1)
		}
		for range 20 { // catch up at most 20 batches per scan
			more, stop := rl.publishDue(ctx)
			if stop {
				return
			}
			if !more {
				break
			}
		}
	}
}

// drop closes the producer (a crash or a broken producer); the next scan
// opens a new one.
func (rl *relayer) drop() {
	if rl.p != nil {
		rl.p.Close()
		rl.p = nil
	}
}

// publishDue publishes one batch of due rows and marks the confirmed ones
// sent. more says another batch may be due; stop that ctx ended a
// publish.
func (rl *relayer) publishDue(ctx context.Context) (more, stop bool) {
	r := rl.r
	now := time.Now()
	rows, err := duePending(ctx, r.odb, now.Add(-r.c.RetryInterval).UnixNano(), now.UnixNano(), r.c.RelayBatch)
	if err != nil {
		if ctx.Err() == nil {
			r.noteErr("relay scan", err)
		}
		return false, false
	}
	if len(rows) == 0 {
		return false, false
	}
	key := binary.BigEndian.AppendUint32(nil, rl.pr.ID())
	for len(rl.bufs) < len(rows) {
		rl.bufs = append(rl.bufs, make([]byte, r.c.Size))
	}
	rl.msgs = rl.msgs[:0]
	for j, row := range rows {
		rl.pr.Stamp(rl.bufs[j], now, time.Now())
		binary.BigEndian.PutUint64(rl.bufs[j][idOffset:], uint64(row.id))
		rl.msgs = append(rl.msgs, driver.Message{Key: key, Body: rl.bufs[j]})
		if row.attempts > 0 {
			r.stats.retries.Add(1)
		}
	}
	err = rl.p.Send(ctx, rl.msgs)
	n, _ := rl.pr.Sent(rl.msgs, err, time.Now())
	r.stats.published.Add(int64(n))
	var sent []int64
	for j, row := range rows {
		if driver.Confirmed(err, len(rl.msgs), j) {
			sent = append(sent, row.id)
		}
	}
	if err != nil {
		r.stats.sendFailures.Add(int64(len(rl.msgs) - n))
		if ctx.Err() != nil {
			return false, true
		}
		r.noteErr("relay publish", err)
		if n == 0 {
			// Nothing went through: the producer may be broken. Reopen it
			// on the next scan; the rows stay due.
			rl.drop()
			return false, false
		}
	}
	if n > 0 {
		rl.publishes++
		if r.c.RelayCrashEvery > 0 && rl.publishes%r.c.RelayCrashEvery == 0 {
			// Crash between the broker's confirm and the mark: the rows
			// stay unconfirmed and the restarted relay publishes them
			// again.
			r.stats.relayCrashes.Add(1)
			rl.drop()
			return false, false
		}
	}
	if len(sent) > 0 {
		if err := markSent(ctx, r.odb, sent); err != nil && ctx.Err() == nil {
			r.noteErr("relay mark", err)
		}
	}
	return len(rows) >= r.c.RelayBatch, false
}
