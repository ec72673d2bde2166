package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

func setup(t *testing.T, b *Broker, profile driver.Profile, dest driver.Destination) (*Driver, driver.Producer) {
	t.Helper()
	d, err := b.Driver(driver.Config{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Provision(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	p, err := d.NewProducer(context.Background(), dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d, p
}

func bodies(n int, tag byte) []driver.Message {
	ms := make([]driver.Message, n)
	for i := range ms {
		ms[i] = driver.Message{Body: []byte{tag, byte(i)}}
	}
	return ms
}

func TestRestartKeepsOnlyDurable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := NewBroker(Options{})
	dest := driver.Destination{Name: "r", Groups: []string{"g"}}
	dd, pd := setup(t, b, driver.Durable, dest)
	_, pf := setup(t, b, driver.Fast, dest)
	if err := pd.Send(ctx, bodies(5, 'd')); err != nil {
		t.Fatal(err)
	}
	if err := pf.Send(ctx, bodies(5, 'f')); err != nil {
		t.Fatal(err)
	}
	c, _ := dd.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	// Hold two durable and two fast messages unacked across the restart.
	ds, err := c.Receive(ctx, 2)
	if err != nil || len(ds) != 2 {
		t.Fatalf("receive: %d %v", len(ds), err)
	}
	c2, _ := dd.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g", Prefetch: 1})
	if ds, err := c2.Receive(ctx, 1); err != nil || len(ds) != 1 {
		t.Fatalf("receive: %d %v", len(ds), err)
	}
	recv := make(chan error, 1)
	go func() {
		// Blocked: its one prefetch slot is used. Restart unblocks it.
		_, err := c2.Receive(ctx, 1)
		recv <- err
	}()
	b.Restart()
	if err := <-recv; !errors.Is(err, driver.ErrClosed) {
		t.Errorf("pending Receive across restart: %v, want ErrClosed", err)
	}
	if err := pd.Send(ctx, bodies(1, 'x')); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Send on a restarted broker: %v, want ErrClosed", err)
	}
	if _, err := dd.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"}); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("old driver after restart: %v, want ErrClosed", err)
	}
	d2, err := b.Driver(driver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if n, _ := d2.Depth(ctx, dest, "g"); n != 5 {
		t.Fatalf("depth after restart %d, want the 5 durable messages", n)
	}
	c3, _ := d2.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	got, err := c3.Receive(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("received %d after restart, want 5", len(got))
	}
	seen := map[byte]bool{}
	for _, dl := range got {
		if dl.Body[0] != 'd' || seen[dl.Body[1]] {
			t.Errorf("unexpected delivery after restart: %q", dl.Body)
		}
		seen[dl.Body[1]] = true
		// d0, d1 and d2 were delivered before the restart.
		if want := dl.Body[1] < 3; dl.Redelivered != want {
			t.Errorf("%q: redelivered %v, want %v", dl.Body, dl.Redelivered, want)
		}
	}
}

func TestFlowLimitBlocksSend(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := NewBroker(Options{FlowLimit: 10 * (msgOverhead + 2)})
	dest := driver.Destination{Name: "flow", Groups: []string{"g"}}
	d, p := setup(t, b, driver.Durable, dest)
	if err := p.Send(ctx, bodies(11, 'a')); err != nil { // over the limit now
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if err := p.Send(short, bodies(1, 'b')); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send over the flow limit: %v, want DeadlineExceeded", err)
	}
	sent := make(chan error, 1)
	go func() { sent <- p.Send(ctx, bodies(1, 'c')) }()
	c, _ := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	ds, err := c.Receive(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	c.Ack(ctx, ds)
	if err := <-sent; err != nil {
		t.Fatalf("Send after consumers caught up: %v", err)
	}
	// Close unblocks a Send blocked by flow control.
	if err := p.Send(ctx, bodies(10, 'd')); err != nil {
		t.Fatal(err)
	}
	go func() { sent <- p.Send(ctx, bodies(1, 'e')) }()
	time.Sleep(20 * time.Millisecond)
	p.Close()
	if err := <-sent; !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("blocked Send after Close: %v, want ErrClosed", err)
	}
}

func TestDriverCloseClosesEverything(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := NewBroker(Options{})
	dest := driver.Destination{Name: "dc", Groups: []string{"g"}}
	d, p := setup(t, b, driver.Durable, dest)
	c, _ := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	recv := make(chan error, 1)
	go func() { _, err := c.Receive(ctx, 1); recv <- err }()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-recv; !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Receive after Driver.Close: %v", err)
	}
	if err := p.Send(ctx, bodies(1, 'a')); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Send after Driver.Close: %v", err)
	}
	if _, err := d.Provision(ctx, dest); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Provision after Driver.Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPrefetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := NewBroker(Options{})
	dest := driver.Destination{Name: "pf", Groups: []string{"g"}}
	d, p := setup(t, b, driver.Durable, dest)
	if err := p.Send(ctx, bodies(10, 'a')); err != nil {
		t.Fatal(err)
	}
	c1, _ := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g", Prefetch: 3})
	c2, _ := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g", Prefetch: 100})
	ds, _ := c1.Receive(ctx, 10)
	if len(ds) != 3 {
		t.Fatalf("prefetch 3: got %d", len(ds))
	}
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	if _, err := c1.Receive(short, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receive beyond prefetch: %v", err)
	}
	rest, _ := c2.Receive(ctx, 100)
	if len(rest) != 7 {
		t.Fatalf("second consumer got %d, want 7", len(rest))
	}
	// Ack frees the slots; a foreign token is refused.
	if err := c1.Ack(ctx, rest[:1]); err == nil {
		t.Error("ack of another consumer's delivery accepted")
	}
	if err := c1.Ack(ctx, ds[1:]); err != nil {
		t.Fatal(err)
	}
	if err := c1.Nack(ctx, ds[:1]); err != nil {
		t.Fatal(err)
	}
	again, _ := c1.Receive(ctx, 10)
	if len(again) != 1 || !again[0].Redelivered || again[0].Body[1] != 0 {
		t.Fatalf("after nack: %v", again)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	if _, err := NewBroker(Options{}).Driver(driver.Config{Profile: "turbo"}); err == nil {
		t.Error("unknown profile accepted")
	}
	d, _ := NewBroker(Options{}).Driver(driver.Config{})
	defer d.Close()
	for _, dest := range []driver.Destination{
		{Name: "", Groups: []string{"g"}},
		{Name: "a b", Groups: []string{"g"}},
		{Name: "a"},
		{Name: "a", Groups: []string{""}},
		{Name: "a", Groups: []string{"g"}, MaxLength: -1},
	} {
		if _, err := d.Provision(ctx, dest); err == nil {
			t.Errorf("Provision(%+v) accepted", dest)
		}
	}
	dest := driver.Destination{Name: "ok", Groups: []string{"g"}}
	if _, err := d.NewProducer(ctx, dest, driver.ProducerOptions{}); err == nil {
		t.Error("producer on an unprovisioned destination")
	}
	cleanup, err := d.Provision(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "other"}); err == nil {
		t.Error("consumer of an unknown group")
	}
	if _, err := d.Provision(ctx, driver.Destination{Name: "ok", Groups: []string{"g"}, MaxLength: 3}); err == nil {
		t.Error("Provision with a different MaxLength accepted")
	}
	c, _ := d.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g"})
	if err := c.Ack(ctx, []*driver.Delivery{nil, {Token: 42}}); err == nil {
		t.Error("ack of bogus deliveries accepted")
	}
	if err := cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Receive(ctx, 1); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Receive on a deleted destination: %v", err)
	}
	if err := cleanup(ctx); err != nil {
		t.Errorf("second cleanup: %v", err)
	}
}

func TestUnsafeDropsRejectedSilently(t *testing.T) {
	ctx := context.Background()
	dest := driver.Destination{Name: "u", Groups: []string{"g"}, MaxLength: 2}
	d, p := setup(t, NewBroker(Options{}), driver.Unsafe, dest)
	if err := p.Send(ctx, bodies(5, 'u')); err != nil {
		t.Fatalf("unsafe send: %v", err)
	}
	if n, _ := d.Depth(ctx, dest, "g"); n != 2 {
		t.Errorf("depth %d, want 2", n)
	}
}

func TestDeque(t *testing.T) {
	var q deque[int]
	var want []int
	for i := range 100 {
		if i%3 == 0 {
			q.pushFront(i)
			want = append([]int{i}, want...)
		} else {
			q.pushBack(i)
			want = append(want, i)
		}
		if i%5 == 0 {
			if got := q.popFront(); got != want[0] {
				t.Fatalf("pop %d, want %d", got, want[0])
			}
			want = want[1:]
		}
	}
	q.filter(func(v *int) bool { return *v%2 == 0 })
	var even []int
	for _, v := range want {
		if v%2 == 0 {
			even = append(even, v)
		}
	}
	if q.len() != len(even) {
		t.Fatalf("len %d, want %d", q.len(), len(even))
	}
	for i, v := range even {
		if *q.at(i) != v {
			t.Fatalf("at %d = %d, want %d", i, *q.at(i), v)
		}
	}
}
