package memory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// tally is a minimal ledger: per (group, producer), which sequences arrived
// how often and how many first arrivals came below the highest seen.
type tally struct {
	lost, duplicated, reordered, received int
}

func (a tally) String() string {
	return fmt.Sprintf("lost %d, duplicated %d, reordered %d, received %d", a.lost, a.duplicated, a.reordered, a.received)
}

// run sends n messages from each of producers producers (batches of batch)
// to a destination with groups groups under faults, closes the producers,
// drains every group and returns the tally summed over groups and producers.
func run(t *testing.T, f Faults, producers, n, batch, groups int) tally {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := NewBroker(Options{Faults: f})
	d, err := b.Driver(driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dest := driver.Destination{Name: "faults"}
	for g := range groups {
		dest.Groups = append(dest.Groups, fmt.Sprintf("g%d", g))
	}
	if _, err := d.Provision(ctx, dest); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, producers)
	for pid := range producers {
		p, err := d.NewProducer(ctx, dest, driver.ProducerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.Close()
			msgs := make([]driver.Message, 0, batch)
			for i := 0; i < n; i += batch {
				msgs = msgs[:0]
				for s := i; s < min(i+batch, n); s++ {
					body := make([]byte, 16)
					binary.BigEndian.PutUint64(body, uint64(pid))
					binary.BigEndian.PutUint64(body[8:], uint64(s))
					msgs = append(msgs, driver.Message{Key: body[:8], Body: body})
				}
				if err := p.Send(ctx, msgs); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	var total tally
	for _, g := range dest.Groups {
		c, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: g})
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]map[uint64]int, producers)
		high := make([]int64, producers)
		for p := range seen {
			seen[p] = map[uint64]int{}
			high[p] = -1
		}
		for {
			depth, err := d.Depth(ctx, dest, g)
			if err != nil {
				t.Fatal(err)
			}
			if depth == 0 {
				break
			}
			ds, err := c.Receive(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, dl := range ds {
				p := binary.BigEndian.Uint64(dl.Body)
				s := binary.BigEndian.Uint64(dl.Body[8:])
				total.received++
				seen[p][s]++
				if seen[p][s] > 1 {
					total.duplicated++
					continue
				}
				if int64(s) < high[p] {
					total.reordered++
				} else {
					high[p] = int64(s)
				}
			}
			if err := c.Ack(ctx, ds); err != nil {
				t.Fatal(err)
			}
		}
		for p := range seen {
			total.lost += n - len(seen[p])
		}
		c.Close()
	}
	return total
}

func TestFaultCounts(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		f                      Faults
		producers, n, batch, g int
		want                   tally
	}{
		{"none", Faults{}, 2, 1000, 100, 2, tally{received: 4000}},
		{"drop every 7", Faults{DropEvery: 7}, 1, 1000, 100, 1, tally{lost: 142, received: 858}},
		{"drop every 7, 3 producers, 2 groups", Faults{DropEvery: 7}, 3, 300, 64, 2,
			tally{lost: 2 * 3 * 42, received: 2 * 3 * (300 - 42)}},
		{"duplicate every 10", Faults{DuplicateEvery: 10}, 1, 1000, 100, 1, tally{duplicated: 100, received: 1100}},
		{"reorder every 10", Faults{ReorderEvery: 10}, 1, 1000, 100, 1, tally{reordered: 99, received: 1000}},
		{"reorder every 10, batches of 10", Faults{ReorderEvery: 10}, 1, 1000, 10, 1, tally{reordered: 99, received: 1000}},
		{"reorder every 2, 2 producers", Faults{ReorderEvery: 2}, 2, 999, 50, 1, tally{reordered: 2 * 499, received: 2 * 999}},
		{"reorder every 1 swaps pairs", Faults{ReorderEvery: 1}, 1, 1000, 33, 1, tally{reordered: 500, received: 1000}},
		{"drop 5 and duplicate 3", Faults{DropEvery: 5, DuplicateEvery: 3}, 1, 1000, 100, 1,
			tally{lost: 200, duplicated: 333 - 66, received: 800 + 333 - 66}},
		{"delay every message keeps order", Faults{DelayEvery: 1, Delay: 20 * time.Millisecond}, 1, 500, 50, 1, tally{received: 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.f, tc.producers, tc.n, tc.batch, tc.g)
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDelayOvertaken: a delayed message is delivered, after later ones.
func TestDelayOvertaken(t *testing.T) {
	got := run(t, Faults{DelayEvery: 10, Delay: 200 * time.Millisecond}, 1, 100, 100, 1)
	if got.lost != 0 || got.duplicated != 0 || got.received != 100 {
		t.Fatalf("got %v, want all 100 delivered once", got)
	}
	// The batch was stored at once: each delayed message but the last
	// (sequence 99, the highest) arrives below the highest seen.
	if got.reordered != 9 {
		t.Errorf("reordered %d, want 9", got.reordered)
	}
}

func TestTxLoseOutcome(t *testing.T) {
	for _, answer := range []driver.TxState{driver.TxCommit, driver.TxRollback} {
		t.Run(answer.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b := NewBroker(Options{Faults: Faults{TxLoseEvery: 2}, TxCheckDelay: 5 * time.Millisecond})
			d, _ := b.Driver(driver.Config{})
			defer d.Close()
			dest := driver.Destination{Name: "tx", Groups: []string{"g"}}
			if _, err := d.Provision(ctx, dest); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var checked []string
			tp, err := d.NewTxProducer(ctx, dest, func(_ context.Context, m driver.Message) driver.TxState {
				mu.Lock()
				checked = append(checked, string(m.Body))
				mu.Unlock()
				return answer
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				st, err := tp.SendTx(ctx, driver.Message{Body: []byte{'0' + byte(i)}}, func(context.Context) driver.TxState { return driver.TxCommit })
				if err != nil || st != driver.TxCommit {
					t.Fatalf("SendTx %d: %v %v", i, st, err)
				}
			}
			c, _ := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
			want := map[driver.TxState]int{driver.TxCommit: 4, driver.TxRollback: 2}[answer]
			var bodies []string
			for len(bodies) < want {
				ds, err := c.Receive(ctx, 10)
				if err != nil {
					t.Fatal(err)
				}
				for _, dl := range ds {
					bodies = append(bodies, string(dl.Body))
				}
				c.Ack(ctx, ds)
			}
			for {
				mu.Lock()
				n := len(checked)
				mu.Unlock()
				if n >= 2 || ctx.Err() != nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if err := tp.Close(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(checked)
			if fmt.Sprint(checked) != "[1 3]" {
				t.Errorf("checked %v, want [1 3] (the 2nd and 4th SendTx)", checked)
			}
			if n, _ := d.Depth(ctx, dest, "g"); n != 0 || len(bodies) != want {
				t.Errorf("delivered %v (+%d waiting), want %d", bodies, n, want)
			}
		})
	}
}

func TestTxUnknownDiscardedAfterMaxChecks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := NewBroker(Options{TxCheckDelay: time.Millisecond, TxMaxChecks: 3})
	d, _ := b.Driver(driver.Config{})
	defer d.Close()
	dest := driver.Destination{Name: "tx", Groups: []string{"g"}}
	if _, err := d.Provision(ctx, dest); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	tp, _ := d.NewTxProducer(ctx, dest, func(context.Context, driver.Message) driver.TxState {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 3 {
			close(done)
		}
		return driver.TxUnknown
	})
	if st, err := tp.SendTx(ctx, driver.Message{Body: []byte("x")}, func(context.Context) driver.TxState { return driver.TxUnknown }); err != nil || st != driver.TxUnknown {
		t.Fatalf("SendTx: %v %v", st, err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("check-back not called 3 times")
	}
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Errorf("check called %d times, want 3", calls)
	}
	if n, _ := d.Depth(ctx, dest, "g"); n != 0 {
		t.Errorf("depth %d, want 0", n)
	}
}

func TestSetFaults(t *testing.T) {
	ctx := context.Background()
	b := NewBroker(Options{})
	d, _ := b.Driver(driver.Config{})
	dest := driver.Destination{Name: "sf", Groups: []string{"g"}}
	if _, err := d.Provision(ctx, dest); err != nil {
		t.Fatal(err)
	}
	p, _ := d.NewProducer(ctx, dest, driver.ProducerOptions{})
	msgs := make([]driver.Message, 10)
	for i := range msgs {
		msgs[i].Body = []byte{byte(i)}
	}
	if err := p.Send(ctx, msgs); err != nil { // messages 1-10
		t.Fatal(err)
	}
	b.SetFaults(Faults{DropEvery: 4})
	if err := p.Send(ctx, msgs); err != nil { // 11-20: 12, 16, 20 dropped
		t.Fatal(err)
	}
	if n, _ := d.Depth(ctx, dest, "g"); n != 17 {
		t.Errorf("depth %d, want 17", n)
	}
	if errors.Is(nil, driver.ErrClosed) {
		t.Fatal("unreachable")
	}
}
