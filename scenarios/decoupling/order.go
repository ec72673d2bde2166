package decoupling

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// order is one order of mode m, intended at intended.
func (r *run) order(ctx context.Context, m *mode, intended time.Time) {
	id := r.orderSeq.Add(1)
	m.stats.placed.Add(1)
	measured := !intended.Before(m.measuredStart)
	var err error
	switch m.name {
	case Direct:
		err = r.httpInv.call(ctx, r.client, id)
		status := "accepted"
		if err != nil {
			status = "failed"
		}
		if _, derr := r.orders.ExecContext(ctx, `INSERT INTO orders (id, mode, status, created_ns) VALUES (?, ?, ?, ?)`, id, m.name, status, time.Now().UnixNano()); derr != nil && err == nil {
			err = fmt.Errorf("orders database: %w", derr)
		}
	case MQ:
		if _, err = r.orders.ExecContext(ctx, `INSERT INTO orders (id, mode, status, created_ns) VALUES (?, ?, 'placed', ?)`, id, m.name, time.Now().UnixNano()); err != nil {
			err = fmt.Errorf("orders database: %w", err)
			break
		}
		body := make([]byte, r.c.Size)
		for i := minSize; i < len(body); i++ {
			body[i] = byte('a' + i%26)
		}
		body[svc.KindOffset] = kindOrderPlaced
		binary.BigEndian.PutUint64(body[svc.PayloadOffset:], uint64(id))
		if err = r.pool.Publish(ctx, body, intended); err != nil {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = r.orders.ExecContext(uctx, `UPDATE orders SET status = 'failed' WHERE id = ?`, id)
			cancel()
		}
	}
	now := time.Now()
	if ctx.Err() != nil && err != nil {
		m.stats.placed.Add(-1) // interrupted, not failed
		return
	}
	if err != nil {
		m.stats.failed.Add(1)
		m.failSeries.Add(now, 1)
		if measured {
			m.failedResponse.Record(now.Sub(intended))
		}
		return
	}
	m.stats.ok.Add(1)
	m.okSeries.Add(now, 1)
	m.acceptedMu.Lock()
	m.accepted = append(m.accepted, id)
	m.acceptedMu.Unlock()
	if measured {
		m.stats.measured.Add(1)
		m.response.Record(now.Sub(intended))
	}
}
