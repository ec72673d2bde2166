package drivertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Native transactions and persistence across a broker restart (which runs
// last).

func (s *suite) testTransaction(t *testing.T) {
	tx, isTx := s.drv.(driver.Transactor)
	if !s.caps.NativeTransaction {
		t.Skipf("capability NativeTransaction not declared by %s: not tested (implements Transactor: %v)", s.info.Name, isTx)
	}
	if !isTx {
		t.Fatalf("NativeTransaction declared but %T does not implement driver.Transactor", s.drv)
	}
	dest := s.setup(t, "tx", 1, 0)
	id := randSuffix()
	// decide holds the check-back answer per message index.
	var mu sync.Mutex
	decide := map[int]driver.TxState{}
	checked := map[int]int{}
	check := func(ctx context.Context, m driver.Message) driver.TxState {
		i, ok := parse(id, m.Body)
		mu.Lock()
		defer mu.Unlock()
		if !ok {
			return driver.TxRollback
		}
		checked[i]++
		return decide[i]
	}
	tp, err := tx.NewTxProducer(s.ctx(t), dest, check)
	if err != nil {
		t.Fatalf("new tx producer: %v", err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	c := s.consumer(t, s.drv, dest, dest.Groups[0], 0)

	sendTx := func(i int, local, want driver.TxState) {
		t.Helper()
		ran := false
		state, err := tp.SendTx(s.ctx(t), driver.Message{Key: []byte("tx"), Body: body(id, i)}, func(context.Context) driver.TxState {
			ran = true
			return local
		})
		if err != nil {
			t.Fatalf("SendTx %d: %v", i, err)
		}
		if !ran {
			t.Fatalf("SendTx %d did not run the local transaction", i)
		}
		if state != want {
			t.Fatalf("SendTx %d returned %v, want %v", i, state, want)
		}
	}
	checkedOnce := func(i int) {
		t.Helper()
		deadline := time.Now().Add(s.h.timeout())
		for {
			mu.Lock()
			n := checked[i]
			mu.Unlock()
			if n > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %d: no check-back within %v", i, s.h.timeout())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// 0 commits; 1 rolls back, then 2 commits: 1 must never show.
	sendTx(0, driver.TxCommit, driver.TxCommit)
	expectExactly(t, "committed", s.until(t, c, id, 0, true), []int{0})
	sendTx(1, driver.TxRollback, driver.TxRollback)
	sendTx(2, driver.TxCommit, driver.TxCommit)
	gs := s.until(t, c, id, 2, true)
	// 3 is unknown, and check-back commits it.
	mu.Lock()
	decide[3] = driver.TxCommit
	decide[4] = driver.TxRollback
	mu.Unlock()
	sendTx(3, driver.TxUnknown, driver.TxUnknown)
	gs = append(gs, s.until(t, c, id, 3, true)...)
	checkedOnce(3)
	// 4 is unknown, and check-back rolls it back: after the check, 5
	// commits, and 4 must never show.
	sendTx(4, driver.TxUnknown, driver.TxUnknown)
	checkedOnce(4)
	sendTx(5, driver.TxCommit, driver.TxCommit)
	gs = append(gs, s.until(t, c, id, 5, true)...)
	gs = append(gs, s.receive(t, c, id, true, s.h.settle(), func([]got) bool { return false })...)
	expectExactly(t, "transactions 1-5 (1 and 4 rolled back)", gs, []int{2, 3, 5})
	mu.Lock()
	defer mu.Unlock()
	for _, i := range []int{0, 1, 2, 5} {
		if checked[i] > 0 {
			t.Logf("message %d with a decided outcome was checked back %d times", i, checked[i])
		}
	}
}

func (s *suite) testPersistence(t *testing.T) {
	s.skipUnless(t, s.caps.Persistent, "Persistent")
	if s.h.Restart == nil {
		t.Skip("Harness.Restart is nil: persistence across a broker restart not tested")
	}
	dest := s.newDest("persist", 1, 0)
	d1, err := s.h.New(s.ctx(t), driver.Durable)
	if err != nil {
		t.Fatalf("open driver: %v", err)
	}
	if _, err := d1.Provision(s.ctx(t), dest); err != nil {
		_ = d1.Close()
		t.Fatalf("provision: %v", err)
	}
	id := randSuffix()
	p, err := d1.NewProducer(s.ctx(t), dest, driver.ProducerOptions{})
	if err != nil {
		_ = d1.Close()
		t.Fatalf("new producer: %v", err)
	}
	const n = 20
	ms := messages(id, 0, n, oneKey)
	if err := p.Send(s.ctx(t), ms); err != nil {
		_ = d1.Close()
		t.Fatalf("send: %v", err)
	}
	_ = p.Close()
	_ = d1.Close()
	// The shared driver does not survive a restart on every broker.
	s.closeShared()

	if err := s.h.Restart(s.ctx(t)); err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.h.timeout())
	defer cancel()
	var d2 driver.Driver
	for {
		d2, err = s.h.New(ctx, driver.Durable)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("reconnect after restart: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Cleanup(func() { _ = d2.Close() })
	s.provision(t, d2, dest)
	c := s.consumer(t, d2, dest, dest.Groups[0], 0)
	expectExactly(t, "confirmed durable messages after a restart", s.collect(t, c, id, n, true), seq(0, n))
}

// testDurability reads back what a durable confirm promises, where the
// driver can: a driver that declares Persistent must promise a sync to disk
// and have read the setting that decides it from the broker (Verified), so
// that every broker's durable profile means the same thing.
func (s *suite) testDurability(t *testing.T) {
	dr, ok := s.drv.(driver.DurabilityReader)
	if !ok {
		t.Skip("the driver does not implement driver.DurabilityReader")
	}
	dest := s.setup(t, "durability", 1, 1)
	du, err := dr.Durability(s.ctx(t), dest)
	if err != nil {
		t.Fatalf("Durability: %v", err)
	}
	t.Logf("durable profile: %s (verified %v; %s: %v)", du.Promise, du.Verified, du.Source, du.Settings)
	if du.Promise == "" || du.Source == "" || len(du.Settings) == 0 {
		t.Fatalf("Durability = %+v: want a promise, a source and the settings read", du)
	}
	if s.caps.Persistent && !du.Synced {
		t.Fatalf("durable profile promises %q: a Persistent driver must sync to disk before it confirms", du.Promise)
	}
	if s.caps.Persistent && !du.Verified {
		t.Fatalf("durable profile promises %q, not verified: a Persistent driver must read back the setting that decides it", du.Promise)
	}
}
