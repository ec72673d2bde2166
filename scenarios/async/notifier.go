package async

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// notifier is one notification service (email or SMS): its own database
// with the processed table, a simulated gateway (stats), and its counters.
type notifier struct {
	group   string
	cost    time.Duration
	db      *store.DB
	notify  *svc.Hist
	series  *svc.Series
	measure atomic.Int64 // IntendNs from which notify latency counts (0 = not yet)

	stats notifyStats
}

// The services' tables start empty: user ids restart at 1 every run.
const notifierSchema = `DROP TABLE IF EXISTS processed;
CREATE TABLE processed (
	user_id  INTEGER PRIMARY KEY,
	state    TEXT NOT NULL,
	sent_ns  INTEGER
)`

// handle is the idempotent service: claim the user id, send, mark sent.
func (n *notifier) handle(ctx context.Context, d *driver.Delivery, h envelope.Header, _ probe.Kind) error {
	if svc.Kind(d.Body) != kindRegistered || len(d.Body) < minSize {
		return nil // not a registration: nothing to do
	}
	user := int64(binary.BigEndian.Uint64(d.Body[svc.PayloadOffset:]))
	res, err := n.db.ExecContext(ctx, `INSERT INTO processed (user_id, state) VALUES (?, 'sending') ON CONFLICT (user_id) DO NOTHING`, user)
	if err != nil {
		n.stats.errs.Add(1)
		return fmt.Errorf("%s: claim user %d: %w", n.group, user, err)
	}
	if k, err := res.RowsAffected(); err != nil || k == 0 {
		n.stats.dupes.Add(1)
		return nil // already processed (or being processed): never send twice
	}
	if err := svc.Sleep(ctx, n.cost); err != nil {
		// Died before sending: release the claim so a redelivery sends.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = n.db.ExecContext(rctx, `DELETE FROM processed WHERE user_id = ? AND state = 'sending'`, user)
		return err
	}
	now := time.Now()
	n.stats.send(user)
	n.series.Add(now, 1)
	if m := n.measure.Load(); m != 0 && h.IntendNs >= m {
		n.notify.Record(time.Duration(now.UnixNano() - h.IntendNs))
	}
	if _, err := n.db.ExecContext(context.WithoutCancel(ctx), `UPDATE processed SET state = 'sent', sent_ns = ? WHERE user_id = ?`, now.UnixNano(), user); err != nil {
		n.stats.errs.Add(1)
		return nil // sent already; acking avoids a second send, the state row stays 'sending'
	}
	return nil
}
