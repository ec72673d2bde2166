package pubsub

import (
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// Headline implements present.Presenter: the received rate.
func (Scenario) Headline(r *result.Result) present.Figure { return present.Received(r) }

// Scoring implements present.Presenter: the raw load is where throughput
// decides, beside the end-to-end p99.
func (Scenario) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{Latency: present.EndToEndP99(r), Throughput: present.Received(r)}
}

// Charts implements present.Presenter: pubsub has no series of its own;
// the latency and timeline charts every scenario gets say it all.
func (Scenario) Charts() []present.Chart { return nil }

// Accept implements present.Presenter: every message sent was confirmed
// and received once, none lost.
func (Scenario) Accept(r *result.Result, _ driver.Capabilities) error {
	a := r.Accounting
	var c present.Check
	c.Expect(a.Sent > 0 && a.Confirmed == a.Sent && a.Lost == 0 && a.Received == a.Confirmed,
		"sent %d confirmed %d received %d lost %d: want all sent confirmed and received, none lost", a.Sent, a.Confirmed, a.Received, a.Lost)
	return c.Err()
}
