package rabbitmq

import (
	"log/slog"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestBlockEventsPlumbing feeds connection.blocked / unblocked
// notifications through a link's watcher, as amqp091-go's NotifyBlocked
// delivers them, and reads them back through the driver's BlockEvents.
func TestBlockEventsPlumbing(t *testing.T) {
	d := &Driver{blocks: &blockLog{}}
	newLink := func(name string) (*link, chan amqp.Blocking, chan struct{}) {
		l := &link{log: slog.New(slog.DiscardHandler), name: name, blocks: d.blocks}
		c := make(chan amqp.Blocking, 4)
		done := make(chan struct{})
		go func() { l.watchBlocked(c); close(done) }()
		return l, c, done
	}
	_, a, aDone := newLink("producer a")
	_, b, bDone := newLink("producer b")

	a <- amqp.Blocking{Active: true, Reason: "low on memory"}
	a <- amqp.Blocking{Active: true, Reason: "low on memory"} // repeated: same period
	a <- amqp.Blocking{Active: false}
	a <- amqp.Blocking{Active: true, Reason: ""}
	b <- amqp.Blocking{Active: true, Reason: "low on disk space"}
	close(a) // the connection closes while blocked: the period ends
	<-aDone
	waitEvents(t, d, 3)

	evs := d.BlockEvents()
	want := []struct {
		conn, reason string
		open         bool
	}{
		{"producer a", "low on memory", false},
		{"producer a", "no reason given", false},
		{"producer b", "low on disk space", true},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	byConn := map[string]int{}
	for _, w := range want {
		// events of one connection are in order; across connections any
		// interleaving is fine
		found := false
		for i, e := range evs {
			if e.Conn == w.conn && e.Reason == w.reason && i >= byConn[w.conn] {
				byConn[w.conn] = i + 1
				found = true
				if e.Open() != w.open || e.Source != "connection.blocked" {
					t.Errorf("event %+v: open %v, want %v", e, e.Open(), w.open)
				}
				if !e.Open() && e.End.Before(e.Start) {
					t.Errorf("event %+v ends before it starts", e)
				}
			}
		}
		if !found {
			t.Errorf("no event %+v in %+v", w, evs)
		}
	}
	b <- amqp.Blocking{Active: false}
	close(b)
	<-bDone
	for _, e := range d.BlockEvents() {
		if e.Open() {
			t.Errorf("event %+v still open after unblock", e)
		}
	}
}

func waitEvents(t *testing.T, d *Driver, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(d.BlockEvents()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("events %+v, want %d", d.BlockEvents(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBlockLogBounded: the log keeps the newest events and the open
// period of a connection stays closable after older events were dropped.
func TestBlockLogBounded(t *testing.T) {
	var b blockLog
	at := time.Unix(0, 0)
	for i := range maxBlockEvents + 10 {
		b.record("c", amqp.Blocking{Active: true, Reason: "r"}, at.Add(time.Duration(i)))
		b.record("c", amqp.Blocking{Active: false}, at.Add(time.Duration(i)))
	}
	b.record("x", amqp.Blocking{Active: true, Reason: "r"}, at)
	b.record("c", amqp.Blocking{Active: true, Reason: "r"}, at)
	b.record("x", amqp.Blocking{Active: false}, at.Add(time.Second))
	evs := b.snapshot()
	if len(evs) != maxBlockEvents {
		t.Fatalf("%d events kept, want %d", len(evs), maxBlockEvents)
	}
	last := evs[len(evs)-2]
	if last.Conn != "x" || last.Open() {
		t.Fatalf("event of x %+v, want closed", last)
	}
	if !evs[len(evs)-1].Open() {
		t.Fatal("the newest event of c should be open")
	}
	var nilLog *blockLog
	nilLog.record("c", amqp.Blocking{Active: true}, at)
	if nilLog.snapshot() != nil {
		t.Fatal("a nil log returned events")
	}
}
