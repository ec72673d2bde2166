package backlog_test

import (
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios/backlog"
)

// TestTargetReachedAndDrained: the accumulation ends at the target, every
// message (both phases) is received once, and the figures are there.
func TestTargetReachedAndDrained(t *testing.T) {
	res, err := run(t, setup{rss: true})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Accounting
	if !res.Verdict.Pass || !a.Complete {
		t.Fatalf("verdict %+v, complete %v", res.Verdict, a.Complete)
	}
	if a.Lost != 0 || a.Duplicated != 0 || a.Unconfirmed != 0 || a.Received != a.Confirmed || a.Confirmed != a.Sent {
		t.Fatalf("accounting %+v", a)
	}
	if got := metric(t, res, backlog.MetricBacklogMessages); got != 3000 {
		t.Fatalf("backlog %g messages, want 3000", got)
	}
	if metric(t, res, backlog.MetricReachedTarget) != 1 || !hasNote(res, "ended at the target") {
		t.Fatalf("accumulation not ended by the target: %v", res.Notes)
	}
	if a.Sent <= 3000 {
		t.Fatalf("sent %d: producers did not go on during the drain", a.Sent)
	}
	if metric(t, res, backlog.MetricRemaining) != 0 {
		t.Fatal("drained run with messages remaining")
	}
	for _, name := range []string{backlog.MetricDrainS, backlog.MetricDrainRate, backlog.MetricDrainRateToEmpty, backlog.MetricCatchUpRecv, backlog.MetricOldestAgeMs,
		backlog.MetricCatchUpS, backlog.MetricAccPublishP99, backlog.MetricDrainRateLive, backlog.MetricSlowedS} {
		metric(t, res, name)
	}
	if cu, all := metric(t, res, backlog.MetricCatchUpRecv), float64(a.Received); cu <= 0 || cu > all {
		t.Fatalf("received %g by the catch-up, want in (0, %g]", cu, all)
	}
	if metric(t, res, backlog.MetricBrokerRSSPeak) != 123 || metric(t, res, backlog.MetricBrokerDiskPeak) != 5 {
		t.Fatal("broker resources not recorded")
	}
	if res.Latency[backlog.LatencyPublishAccumulate].Count != 3000 || res.Latency[backlog.LatencyPublishDrain] == nil {
		t.Fatalf("per-phase publish latency: %+v", res.Latency)
	}
	if !hasNote(res, "does not report broker blocks") {
		t.Fatalf("no note on the missing BlockReporter: %v", res.Notes)
	}
	for _, s := range []string{backlog.SeriesBrokerRSS, backlog.SeriesBrokerDisk, backlog.SeriesSlowedMs, backlog.SeriesPhase} {
		if res.Series[s] == nil {
			t.Errorf("series %s missing", s)
		}
	}
	checkSeries(t, res)
}

// TestTimeBound: a target out of reach ends at the time bound, says so,
// and the backlog built still drains with nothing lost.
func TestTimeBound(t *testing.T) {
	res, err := run(t, setup{edit: func(c *backlog.Config) {
		c.TargetBytes, c.Rate, c.Duration, c.DrainRate = 1<<30, 2000, 300*time.Millisecond, 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Accounting
	if metric(t, res, backlog.MetricReachedTarget) != 0 || !hasNote(res, "time bound") {
		t.Fatalf("not ended by the time bound: %v", res.Notes)
	}
	if !res.Verdict.Pass || a.Lost != 0 || a.Received != a.Confirmed || a.Confirmed == 0 {
		t.Fatalf("verdict %+v accounting %+v", res.Verdict, a)
	}
	if int64(metric(t, res, backlog.MetricBacklogMessages)) != a.Confirmed {
		t.Fatal("with drain_rate 0 every confirmed message belongs to the backlog")
	}
	if _, ok := res.Metrics[backlog.MetricDrainRateLive]; ok {
		t.Fatal("a live drain rate without producers during the drain")
	}
}

// TestFlowControlStalls: a broker that stops senders at a memory limit
// (the memory broker's FlowLimit, like ActiveMQ's producer flow control)
// shows as stalled sends and, reported by the driver, as blocked time; their messages are unconfirmed, never lost, and
// the backlog still drains.
func TestFlowControlStalls(t *testing.T) {
	res, err := run(t, setup{opts: memory.Options{FlowLimit: 32 << 10}, pass: true, edit: func(c *backlog.Config) {
		c.TargetBytes, c.Rate, c.Duration, c.Drain = 1<<30, 20000, 500*time.Millisecond, 2*time.Second
		c.DrainRate, c.ProduceFor, c.StallMin = 0, 0, 100*time.Millisecond
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Accounting
	if metric(t, res, backlog.MetricStalledSends) < 1 || metric(t, res, backlog.MetricSlowedS) <= 0 {
		t.Fatalf("no stall detected: %v", res.Metrics)
	}
	if !hasNote(res, "stalled") {
		t.Fatalf("no stall note: %v", res.Notes)
	}
	// The memory broker also says so (driver.BlockReporter), like a
	// RabbitMQ memory alarm.
	if metric(t, res, backlog.MetricBlockEvents) < 1 || metric(t, res, backlog.MetricBlockedAccS) <= 0 || !hasNote(res, "flow limit") {
		t.Fatalf("flow-control blocks not reported: %v %v", res.Metrics, res.Notes)
	}
	if a.Lost != 0 || a.Unconfirmed == 0 || !res.Verdict.Pass {
		t.Fatalf("verdict %+v accounting %+v", res.Verdict, a)
	}
	checkSeries(t, res)
}

// TestBlockReporter: broker-reported blocks within the run are counted and
// named, older ones ignored; blocking is a finding, not a failure.
func TestBlockReporter(t *testing.T) {
	res, err := run(t, setup{report: true})
	if err != nil {
		t.Fatal(err)
	}
	if metric(t, res, backlog.MetricBlockEvents) != 1 || metric(t, res, backlog.MetricBlockedS) <= 0 {
		t.Fatalf("block figures %v", res.Metrics)
	}
	if !hasNote(res, "connection.blocked: low on memory (1×)") || hasNote(res, "old alarm") {
		t.Fatalf("notes %v", res.Notes)
	}
	if !res.Verdict.Pass {
		t.Fatalf("blocking failed the verdict: %+v", res.Verdict)
	}
	checkSeries(t, res)
}

// TestCancel: cancelling while accumulating or while draining returns what
// was measured, with Accounting.Complete false and a passing verdict.
func TestCancel(t *testing.T) {
	tests := []struct {
		name  string
		setup setup
	}{
		{"while accumulating", setup{cancelAt: 10, edit: func(c *backlog.Config) { c.TargetBytes = 1 << 30; c.Rate = 5000 }}},
		{"while draining", setup{recv: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, tt.setup)
			if err != nil {
				t.Fatal(err)
			}
			a := res.Accounting
			if a.Complete || !res.Verdict.Pass || a.Confirmed == 0 {
				t.Fatalf("complete %v verdict %+v accounting %+v", a.Complete, res.Verdict, a)
			}
			if a.Received > a.Sent {
				t.Fatalf("received %d of %d sent", a.Received, a.Sent)
			}
			checkSeries(t, res)
		})
	}
}
