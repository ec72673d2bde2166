package load_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/scenariotest"
)

func TestScheduleCounts(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		dur   time.Duration
		limit int64
		want  int
	}{
		{"open loop rate × duration", 20000, 100 * time.Millisecond, 0, 2000},
		{"open loop capped", 20000, time.Second, 500, 500},
		{"closed loop capped", 0, time.Minute, 1234, 1234},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			s := load.NewSchedule(tt.rate, start, start.Add(tt.dur), 64).WithLimit(tt.limit)
			var buf []time.Time
			n := 0
			prev := time.Time{}
			for {
				var ok bool
				buf, ok = s.Next(context.Background(), buf)
				if !ok {
					break
				}
				if len(buf) == 0 || len(buf) > 64 {
					t.Fatalf("batch of %d", len(buf))
				}
				for _, at := range buf {
					if at.Before(prev) {
						t.Fatal("intended times go backwards")
					}
					prev = at
				}
				n += len(buf)
			}
			if n != tt.want {
				t.Fatalf("yielded %d, want %d", n, tt.want)
			}
		})
	}
}

// TestScheduleNeverOutlivesItsWindow: whatever the rate, a schedule yields
// no intended time at or after its end, and none once the wall clock is
// past end + Overrun, so an unreachable rate cannot keep a producer
// sending rate × duration messages long after the run.
func TestScheduleNeverOutlivesItsWindow(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		rate       float64
		start, end time.Time
		want       int // messages yielded in all
	}{
		{"end passed, backlog of an hour owed", 1000, now.Add(-time.Hour), now.Add(-2 * load.Overrun), 0},
		{"unreachable rate, end passed", 1e12, now.Add(-time.Minute), now.Add(-2 * load.Overrun), 0},
		{"tiny rate: the next message is past the end", 1e-300, now.Add(-time.Millisecond), now.Add(time.Hour), 1},
		{"NaN rate is closed loop, end passed", math.NaN(), now.Add(-time.Hour), now.Add(-time.Second), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load.NewSchedule(tt.rate, tt.start, tt.end, 64)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var buf []time.Time
			n := 0
			for calls := 0; ; calls++ {
				var ok bool
				buf, ok = s.Next(ctx, buf)
				if !ok {
					break
				}
				for _, at := range buf {
					if !at.Before(tt.end) || at.Before(tt.start) {
						t.Fatalf("intended time %v outside [%v, %v)", at, tt.start, tt.end)
					}
				}
				n += len(buf)
				if calls > 1000 {
					t.Fatalf("still yielding after %d calls (%d messages)", calls, n)
				}
				if n >= tt.want {
					// What remains would only be yielded by waiting: stop it.
					cancel()
				}
			}
			if n != tt.want {
				t.Fatalf("yielded %d, want %d", n, tt.want)
			}
		})
	}
}

func TestScheduleStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	s := load.NewSchedule(1, start.Add(time.Hour), start.Add(2*time.Hour), 1)
	cancel()
	if _, ok := s.Next(ctx, nil); ok {
		t.Fatal("Next returned true after cancel")
	}
}

// expected computes, for one producer sending n messages through the memory
// broker with faults f, the exact lost, duplicated and reordered counts per
// group, following memory.Faults' documented rules.
func expected(f memory.Faults, n int) (lost, dup, reord int64) {
	hit := func(k, i int) bool { return k > 0 && i%k == 0 }
	for i := 1; i <= n; i++ {
		if hit(f.DropEvery, i) {
			lost++
			continue
		}
		if hit(f.DuplicateEvery, i) {
			dup++
		}
		if hit(f.ReorderEvery, i) && i < n {
			reord++
		}
	}
	return lost, dup, reord
}

// TestLedgerCatchesInjectedFaults sends through the memory broker with
// deterministic drops, duplicates and reorders and checks that the ledger
// reports exactly those counts, in every fan-out group.
func TestLedgerCatchesInjectedFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults memory.Faults
	}{
		{"clean", memory.Faults{}},
		{"drops", memory.Faults{DropEvery: 97}},
		{"duplicates", memory.Faults{DuplicateEvery: 89}},
		{"reorders", memory.Faults{ReorderEvery: 83}},
		{"all three", memory.Faults{DropEvery: 97, DuplicateEvery: 89, ReorderEvery: 83}},
	}
	const producers, perProducer = 2, 10000
	groups := []string{"a", "b"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			drv, err := memory.NewBroker(memory.Options{Faults: tt.faults}).Driver(driver.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer drv.Close()
			dest := driver.Destination{Name: "faults", Groups: groups}
			if _, err := drv.Provision(ctx, dest); err != nil {
				t.Fatal(err)
			}
			st := probe.New(probe.Options{RunID: 42, Groups: groups})
			cctx, stop := context.WithCancel(ctx)
			var cwg sync.WaitGroup
			for _, g := range groups {
				c, err := drv.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: g})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				pr := st.Consumer(g)
				cwg.Add(1)
				go func() {
					defer cwg.Done()
					if err := load.Consume(cctx, c, pr, 100); err != nil {
						t.Error(err)
					}
				}()
			}
			var pwg sync.WaitGroup
			for i := range producers {
				p, err := drv.NewProducer(ctx, dest, driver.ProducerOptions{})
				if err != nil {
					t.Fatal(err)
				}
				pr := st.Producer(uint32(i))
				sched := load.NewSchedule(0, time.Now(), time.Now().Add(time.Minute), 100).WithLimit(perProducer)
				pwg.Add(1)
				go func() {
					defer pwg.Done()
					defer p.Close() // releases a held-back reorder
					if failed, err := load.Produce(ctx, p, pr, sched, 128); failed > 0 {
						t.Errorf("%d sends failed: %v", failed, err)
					}
				}()
			}
			pwg.Wait()
			lost, dup, reord := expected(tt.faults, perProducer)
			// Wait for every message that will arrive: all but the lost ones.
			want := int64(producers*perProducer)*int64(len(groups)) - lost*producers*int64(len(groups))
			deadline := time.Now().Add(30 * time.Second)
			for st.Snapshot().Received < want && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			stop()
			cwg.Wait()
			sum := st.Summary(true)
			for _, g := range groups {
				a := sum.PerGroup[g]
				if a.Lost != lost*producers || a.Duplicated != dup*producers || a.Reordered != reord*producers {
					t.Errorf("group %s: lost %d dup %d reordered %d, want %d %d %d",
						g, a.Lost, a.Duplicated, a.Reordered, lost*producers, dup*producers, reord*producers)
				}
			}
			a := sum.Accounting
			if a.Sent != producers*perProducer || a.Confirmed != a.Sent || a.Unconfirmed != 0 {
				t.Errorf("sent %d confirmed %d unconfirmed %d", a.Sent, a.Confirmed, a.Unconfirmed)
			}
		})
	}
}

func TestConsumeSurvivesBrokerErrors(t *testing.T) {
	st := probe.New(probe.Options{RunID: 9, Groups: []string{"g"}})
	pr := st.Producer(0)
	var bodies [][]byte
	var msgs []driver.Message
	for range 3 {
		b := make([]byte, 64)
		pr.Stamp(b, time.Now(), time.Now())
		bodies = append(bodies, b)
		msgs = append(msgs, driver.Message{Body: b})
	}
	pr.Sent(msgs, nil, time.Now())
	fc := &scenariotest.FlakyConsumer{FailReceives: 2, FailAcks: 1, Bodies: bodies}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- load.Consume(ctx, fc, st.Consumer("g"), 10) }()
	for st.Snapshot().Received < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume returned %v after recovering", err)
	}
	if a := st.Summary(true).Accounting; a.Received != 3 || a.Lost != 0 {
		t.Fatalf("accounting %+v", a)
	}
}

// TestScheduleCountsWhatItNeverSent: a schedule cut short because its
// producer fell behind says how many due messages it never yielded; one that
// ran its course, or a closed loop, owes nothing.
func TestScheduleCountsWhatItNeverSent(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		rate       float64
		start, end time.Time
		limit      int64
		want       int64
	}{
		{"an hour at 1000/s owed, end passed", 1000, now.Add(-time.Hour), now.Add(-2 * load.Overrun), 0, (3600 - 2) * 1000},
		{"the cap bounds what is owed", 1000, now.Add(-time.Hour), now.Add(-2 * load.Overrun), 500, 500},
		{"closed loop owes nothing", 0, now.Add(-time.Hour), now.Add(-2 * load.Overrun), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load.NewSchedule(tt.rate, tt.start, tt.end, 1000).WithLimit(tt.limit)
			if buf, ok := s.Next(context.Background(), nil); ok || len(buf) != 0 {
				t.Fatalf("Next after end + Overrun yielded %d messages, ok %v", len(buf), ok)
			}
			if got := s.Unsent(); got != tt.want {
				t.Fatalf("Unsent() = %d, want %d", got, tt.want)
			}
		})
	}
}

// A gate paces a closed loop one message at a time and ends it by
// refusing; an open-loop schedule ignores it.
func TestScheduleGate(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		opens     int // the gate's answers: this many true, then false
		wantTotal int
		wantCalls int
	}{
		{"closed loop, one per opening", 0, 3, 3, 4},
		{"closed loop, refused at once", 0, 0, 0, 1},
		{"open loop ignores the gate", 1e6, 0, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			calls := 0
			s := load.NewSchedule(tt.rate, start, start.Add(time.Hour), 10).WithLimit(100).WithGate(func(context.Context) bool {
				calls++
				return calls <= tt.opens
			})
			total := 0
			var buf []time.Time
			for {
				var ok bool
				if buf, ok = s.Next(context.Background(), buf); !ok {
					break
				}
				if tt.rate == 0 && len(buf) != 1 {
					t.Fatalf("a gated closed loop yielded %d at once, want 1", len(buf))
				}
				total += len(buf)
			}
			if total != tt.wantTotal || calls != tt.wantCalls {
				t.Fatalf("yielded %d after %d gate calls, want %d after %d", total, calls, tt.wantTotal, tt.wantCalls)
			}
		})
	}
}
