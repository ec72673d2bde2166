package async

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// request is one registration in mode m, intended to start at intended.
func (r *run) request(ctx context.Context, m *mode, intended time.Time) {
	id := r.userSeq.Add(1)
	t0 := time.Now()
	_, err := r.users.ExecContext(ctx, `INSERT INTO users (id, mode, email, phone, created_ns) VALUES (?, ?, ?, ?, ?)`,
		id, m.name, fmt.Sprintf("user%d@example.test", id), fmt.Sprintf("+1555%07d", id%10000000), t0.UnixNano())
	if err != nil {
		if ctx.Err() == nil {
			m.stats.failed.Add(1)
		}
		return
	}
	measured := !intended.Before(m.measuredStart)
	if measured {
		r.dbWrite.Record(time.Since(t0))
	}
	switch m.name {
	case Serial:
		if svc.Sleep(ctx, r.c.EmailTime) != nil || svc.Sleep(ctx, r.c.SMSTime) != nil {
			return
		}
	case Parallel:
		var wg sync.WaitGroup
		var e1, e2 error
		wg.Add(2)
		go func() { defer wg.Done(); e1 = svc.Sleep(ctx, r.c.EmailTime) }()
		go func() { defer wg.Done(); e2 = svc.Sleep(ctx, r.c.SMSTime) }()
		wg.Wait()
		if e1 != nil || e2 != nil {
			return
		}
	case MQ:
		body := make([]byte, r.c.Size)
		for i := minSize; i < len(body); i++ {
			body[i] = byte('a' + i%26)
		}
		body[svc.KindOffset] = kindRegistered
		binary.BigEndian.PutUint64(body[svc.PayloadOffset:], uint64(id))
		if err := r.pool.Publish(ctx, body, intended); err != nil {
			if ctx.Err() == nil {
				m.stats.failed.Add(1)
			}
			return
		}
		r.confirmMu.Lock()
		r.confirmed = append(r.confirmed, id)
		r.confirmMu.Unlock()
	}
	now := time.Now()
	m.stats.answered.Add(1)
	m.series.Add(now, 1)
	if measured {
		m.stats.measured.Add(1)
		m.response.Record(now.Sub(intended))
	}
}
