package drivertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mqbench/mqbench/adapters/driver"
)

// NetHarness connects the network-fault suite to one adapter. The suite puts
// an in-process TCP proxy (toxiproxy, used as a library) between the driver
// and the broker and injects faults into it.
type NetHarness struct {
	// Name is the adapter name, used in destination names.
	Name string
	// Upstream is the broker address the proxy forwards to.
	Upstream string
	// Listen is the proxy's own address. Empty picks a free loopback port.
	// A broker that advertises its address to clients (Kafka, RocketMQ)
	// must advertise this one, or the clients bypass the proxy.
	Listen string
	// New opens a Durable driver at addr, the proxy's address, whose every
	// network operation is bounded by opTimeout.
	New func(ctx context.Context, addr string, opTimeout time.Duration) (driver.Driver, error)
	// Timeout bounds the recovery after a fault is healed and each wait for
	// deliveries. Zero means 60s.
	Timeout time.Duration
}

// Bounds of the network-fault suite. netOpTimeout is the drivers' operation
// timeout; netBound is the "it did not hang" limit for one call under a
// fault: far above what an adapter needs, far below a hang.
const (
	netOpTimeout = 2 * time.Second
	netBound     = 30 * time.Second
)

// NetFaults runs the network faults of reliability.md through a proxy, one
// subtest each:
//
//   - Latency: 100 ms added each way; every send is confirmed.
//   - Reset: every connection is reset as soon as it carries data.
//   - Blackhole: connections stay open but carry nothing, like a hung
//     broker or a dead link without a FIN.
//   - Down: the proxy stops (listener closed, connections cut); a new
//     driver fails with driver.ErrUnreachable.
//
// In each, no Send, Receive or New blocks past netBound while the fault
// lasts; after healing, the same producer and consumer carry on within
// Timeout; and every confirmed message is delivered (lost = 0). Messages
// sent but not confirmed during the fault may or may not arrive, and
// redeliveries may duplicate: both are counted and logged, not failed.
func NetFaults(t *testing.T, h NetHarness) {
	t.Helper()
	if h.New == nil || h.Upstream == "" {
		t.Fatal("drivertest: NetHarness needs New and Upstream")
	}
	if h.Timeout <= 0 {
		h.Timeout = 60 * time.Second
	}
	px := startProxy(t, h)
	faults := []struct {
		name   string
		inject func(t *testing.T)
		heal   func(t *testing.T)
		// cuts says the fault breaks the service: sends during it need
		// not be confirmed (with Latency they must be).
		cuts bool
	}{
		{"Latency", px.toxic(`{"name":"lat-down","type":"latency","stream":"downstream","attributes":{"latency":100}}`,
			`{"name":"lat-up","type":"latency","stream":"upstream","attributes":{"latency":100}}`), px.clear, false},
		{"Reset", px.toxic(`{"name":"reset","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`), px.clear, true},
		{"Blackhole", px.toxic(`{"name":"hole-down","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`,
			`{"name":"hole-up","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`), px.clear, true},
		{"Down", px.down, px.up, true},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			px.clear(t)
			px.up(t)
			runNetFault(t, h, px.addr(), f.name, f.inject, f.heal, f.cuts)
		})
	}
}

// runNetFault is one fault's run: a baseline, the fault, the recovery and
// the accounting.
func runNetFault(t *testing.T, h NetHarness, addr, name string, inject, heal func(*testing.T), cuts bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*h.Timeout)
	defer cancel()
	drv, dest, p, c := openNetPair(ctx, t, h, addr, name)
	l := &netLedger{id: "net-" + randSuffix(), confirmed: map[int]bool{}}
	const batch = 10
	if n := l.send(ctx, t, p, batch); n != batch {
		t.Fatalf("baseline: %d of %d confirmed before any fault", n, batch)
	}

	inject(t)
	underNetFault(ctx, t, l, p, c, name, batch, cuts)
	if name == "Down" {
		checkDownUnreachable(ctx, t, h, addr)
	}

	heal(t)
	healed := time.Now()
	for l.send(ctx, t, p, batch) == 0 {
		if time.Since(healed) > h.Timeout {
			t.Fatalf("the producer did not recover within %v after %s was healed", h.Timeout, name)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%s: producer confirmed again %v after healing", name, time.Since(healed).Round(time.Millisecond))
	drainNetLedger(ctx, t, l, c, name, h.Timeout, func() string { return queueDepth(ctx, drv, dest, "g") })
}

// queueDepth tells how many messages the broker says wait in group's queue
// of dest, which tells a message lost from one the broker holds but does
// not deliver.
func queueDepth(ctx context.Context, drv driver.Driver, dest driver.Destination, group string) string {
	dr, ok := drv.(driver.DepthReader)
	if !ok {
		return "the driver cannot read the queue's depth"
	}
	n, err := dr.Depth(ctx, dest, group)
	if err != nil {
		return fmt.Sprintf("the queue's depth could not be read: %v", err)
	}
	return fmt.Sprintf("the broker says %d messages wait in the queue", n)
}

// openNetPair opens a driver through the proxy, provisions a destination of
// its own and returns them with a producer and a consumer on it, all
// closed (and the destination deleted) when the test ends.
func openNetPair(ctx context.Context, t *testing.T, h NetHarness, addr, name string) (driver.Driver, driver.Destination, driver.Producer, driver.Consumer) {
	drv, err := h.New(ctx, addr, netOpTimeout)
	if err != nil {
		t.Fatalf("open driver through the proxy: %v", err)
	}
	t.Cleanup(func() { drv.Close() })
	dest := driver.Destination{Name: fmt.Sprintf("mqb-net-%s-%s-%s", h.Name, strings.ToLower(name), randSuffix()), Groups: []string{"g"}}
	cleanup, err := drv.Provision(ctx, dest)
	if err != nil {
		t.Fatalf("provision %s: %v", dest.Name, err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			t.Logf("cleanup %s: %v", dest.Name, err)
		}
	})
	p, err := drv.NewProducer(ctx, dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatalf("new producer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := drv.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: "g", Prefetch: 100})
	if err != nil {
		t.Fatalf("new consumer: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return drv, dest, p, c
}

// underNetFault sends and receives while the fault holds: no call may block
// past netBound, and a fault that does not cut the connection must not fail
// a send.
func underNetFault(ctx context.Context, t *testing.T, l *netLedger, p driver.Producer, c driver.Consumer, name string, batch int, cuts bool) {
	for range 3 {
		begin := time.Now()
		n := l.send(ctx, t, p, batch)
		took := time.Since(begin)
		t.Logf("%s: send of %d returned after %v with %d confirmed", name, batch, took.Round(time.Millisecond), n)
		if took > netBound {
			t.Fatalf("Send blocked %v under %s (bound %v)", took, name, netBound)
		}
		if !cuts && n != batch {
			t.Fatalf("%s: only %d of %d sends confirmed; a slow network must not fail sends", name, n, batch)
		}
	}
	begin := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, time.Second)
	ds, err := c.Receive(rctx, 50)
	rcancel()
	if took := time.Since(begin); took > netBound {
		t.Fatalf("Receive blocked %v under %s (bound %v)", took, name, netBound)
	}
	l.received(t, ds)
	if err == nil {
		_ = c.Ack(ctx, ds) // may fail under the fault: then they are redelivered
	}
}

// checkDownUnreachable opens a new driver through the stopped proxy: it must
// fail promptly with driver.ErrUnreachable.
func checkDownUnreachable(ctx context.Context, t *testing.T, h NetHarness, addr string) {
	begin := time.Now()
	d2, err := h.New(ctx, addr, netOpTimeout)
	if err == nil {
		d2.Close()
		t.Fatal("New through a stopped proxy succeeded")
	}
	if !errors.Is(err, driver.ErrUnreachable) {
		t.Errorf("New through a stopped proxy: %v, want it to wrap driver.ErrUnreachable", err)
	}
	if took := time.Since(begin); took > netBound {
		t.Fatalf("New blocked %v with the proxy down (bound %v)", took, netBound)
	}
}

// drainNetLedger receives until every confirmed message arrived or timeout
// passed, then fails the test naming those still missing and, when
// diagnose is not nil, what it says (the queue's depth).
func drainNetLedger(ctx context.Context, t *testing.T, l *netLedger, c driver.Consumer, name string, timeout time.Duration, diagnose func() string) {
	deadline := time.Now().Add(timeout)
	for l.missing() > 0 && time.Now().Before(deadline) {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		ds, err := c.Receive(rctx, 50)
		rcancel()
		if err != nil {
			continue // the consumer reconnects; the deadline bounds the wait
		}
		l.received(t, ds)
		if err := c.Ack(ctx, ds); err != nil {
			t.Logf("ack after %s: %v (they may come again)", name, err)
		}
	}
	t.Logf("%s: sent %d, confirmed %d, received %d distinct (%d of them unconfirmed), %d duplicates",
		name, l.sent, len(l.confirmed), len(l.seen), l.unconfirmedSeen(), l.dups)
	ids := l.missingIDs()
	if len(ids) == 0 {
		return
	}
	note := ""
	if diagnose != nil {
		note = "; " + diagnose()
	}
	t.Fatalf("%s: lost %d confirmed messages %v: not delivered within %v after healing%s", name, len(ids), ids, timeout, note)
}

// netLedger accounts one fault run's messages.
type netLedger struct {
	id        string
	sent      int
	confirmed map[int]bool
	seen      map[int]bool
	dups      int
}

// send sends the next n messages, each bounded by netBound, and returns
// how many were confirmed.
func (l *netLedger) send(ctx context.Context, t *testing.T, p driver.Producer, n int) int {
	t.Helper()
	ms := messages(l.id, l.sent, l.sent+n, oneKey)
	from := l.sent
	l.sent += n
	sctx, cancel := context.WithTimeout(ctx, netBound)
	defer cancel()
	err := p.Send(sctx, ms)
	var se *driver.SendError
	switch {
	case err == nil:
		for i := range n {
			l.confirmed[from+i] = true
		}
		return n
	case errors.As(err, &se) && len(se.Errs) == n:
		ok := 0
		var first error
		for i, e := range se.Errs {
			if e == nil {
				l.confirmed[from+i] = true
				ok++
			} else if first == nil {
				first = e
			}
		}
		if first != nil {
			t.Logf("send %d-%d: %d unconfirmed, first: %v", from, from+n-1, n-ok, first)
		}
		return ok
	default:
		t.Logf("send %d-%d: %v", from, from+n-1, err)
		return 0
	}
}

func (l *netLedger) received(t *testing.T, ds []*driver.Delivery) {
	t.Helper()
	if l.seen == nil {
		l.seen = map[int]bool{}
	}
	for _, d := range ds {
		i, ok := parse(l.id, d.Body)
		if !ok {
			t.Logf("ignoring foreign message %q", d.Body)
			continue
		}
		if l.seen[i] {
			l.dups++
		}
		l.seen[i] = true
	}
}

func (l *netLedger) missing() int { return len(l.missingIDs()) }

// missingIDs lists the confirmed messages not yet received, in order.
func (l *netLedger) missingIDs() []int {
	var ids []int
	for i := range l.confirmed {
		if !l.seen[i] {
			ids = append(ids, i)
		}
	}
	slices.Sort(ids)
	return ids
}

func (l *netLedger) unconfirmedSeen() int {
	n := 0
	for i := range l.seen {
		if !l.confirmed[i] {
			n++
		}
	}
	return n
}

// netProxy is one toxiproxy proxy in this process.
type netProxy struct {
	p *toxiproxy.Proxy
}

func startProxy(t *testing.T, h NetHarness) *netProxy {
	t.Helper()
	listen := h.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "mqbench-"+h.Name, listen, h.Upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("start proxy %s -> %s: %v", listen, h.Upstream, err)
	}
	t.Cleanup(p.Stop)
	t.Logf("proxy %s -> %s", p.Listen, h.Upstream)
	return &netProxy{p: p}
}

// addr is where the proxy listens; it keeps its port across down and up.
func (x *netProxy) addr() string { return x.p.Listen }

// toxic returns a fault that adds the toxics given as toxiproxy JSON.
func (x *netProxy) toxic(specs ...string) func(t *testing.T) {
	return func(t *testing.T) {
		t.Helper()
		for _, s := range specs {
			if _, err := x.p.Toxics.AddToxicJson(strings.NewReader(s)); err != nil {
				t.Fatalf("add toxic %s: %v", s, err)
			}
		}
	}
}

// clear removes every toxic.
func (x *netProxy) clear(t *testing.T) {
	x.p.Toxics.ResetToxics(context.Background())
}

// down stops the proxy: its listener closes and its connections are cut.
func (x *netProxy) down(t *testing.T) { x.p.Stop() }

// up starts the proxy again on the same address (a no-op when it runs).
func (x *netProxy) up(t *testing.T) {
	t.Helper()
	if x.p.Enabled {
		return
	}
	if err := x.p.Start(); err != nil {
		t.Fatalf("restart proxy on %s: %v", x.p.Listen, err)
	}
}
