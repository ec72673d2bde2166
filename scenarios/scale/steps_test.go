package scale_test

import (
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios/scale"
)

// TestStepsAccounted: every step runs with its counts, every message of
// every step is received once, and the series line up with the timeline.
func TestStepsAccounted(t *testing.T) {
	res, lim := run(t, setup{dests: []int{1, 3}, conns: []int{2}})
	a := res.Accounting
	if !res.Verdict.Pass || !a.Complete || a.Lost != 0 || a.Duplicated != 0 || a.Received != a.Confirmed || a.Confirmed != a.Sent || a.Sent == 0 {
		t.Fatalf("verdict %+v accounting %+v", res.Verdict, a)
	}
	want := []struct {
		step                   string
		dests, prods, consumer float64
	}{{"dest1", 1, 1, 1}, {"dest3", 3, 3, 3}, {"conn2", 1, 2, 2}}
	var confirmed float64
	for _, w := range want {
		if w.step == "conn2" && metric(t, res, w.step, scale.SuffixPartitions) != 2 {
			t.Fatal("a connection step has fewer partitions than consumers")
		}
		if metric(t, res, w.step, scale.SuffixOK) != 1 || metric(t, res, w.step, scale.SuffixDrained) != 1 {
			t.Fatalf("step %s did not run clean: %v", w.step, res.Notes)
		}
		if metric(t, res, w.step, scale.SuffixDestinations) != w.dests || metric(t, res, w.step, scale.SuffixProducers) != w.prods ||
			metric(t, res, w.step, scale.SuffixConsumers) != w.consumer {
			t.Fatalf("step %s counts wrong: %v", w.step, res.Metrics)
		}
		metric(t, res, w.step, scale.SuffixE2EP99)
		metric(t, res, w.step, scale.SuffixPublishP99)
		if metric(t, res, w.step, scale.SuffixBrokerRSS) != 42 {
			t.Fatalf("step %s broker RSS not recorded", w.step)
		}
		confirmed += metric(t, res, w.step, scale.SuffixConfirmed)
	}
	if int64(confirmed) != a.Confirmed {
		t.Fatalf("steps confirmed %g, run %d", confirmed, a.Confirmed)
	}
	if res.Metrics[scale.MetricSteps].Value != 3 || res.Metrics[scale.MetricStepsFailed].Value != 0 {
		t.Fatalf("step counts %v", res.Metrics)
	}
	if n := lim.provisions.Load(); n != 5 || lim.cleanups.Load() != n {
		t.Fatalf("%d destinations provisioned, %d cleaned up; want 5 and 5", n, lim.cleanups.Load())
	}
	// Steps here are shorter than a second: a second shows the last step
	// that ran in it, so the series only rises, up to the last step.
	prev := 0.0
	for _, v := range res.Series[scale.SeriesStep] {
		if v < prev || v > 3 {
			t.Fatalf("step series %v", res.Series[scale.SeriesStep])
		}
		prev = v
	}
	if prev != 3 {
		t.Fatalf("step series %v does not reach the last step", res.Series[scale.SeriesStep])
	}
	for name, v := range res.Series {
		if len(v) != len(res.Timeline) {
			t.Errorf("series %s has %d values for %d seconds", name, len(v), len(res.Timeline))
		}
	}
	if res.Latency["end_to_end"] == nil || res.Latency["end_to_end"].Count == 0 {
		t.Fatal("merged end-to-end latency missing")
	}
}

// TestFailedStepReported: a step the broker cannot do is reported with the
// broker's error, its destinations are cleaned up, and the run goes on.
func TestFailedStepReported(t *testing.T) {
	tests := []struct {
		name     string
		s        setup
		note     string
		wantPass bool
	}{
		{"consumer limit", setup{dests: []int{1, 5}, conns: []int{2}, maxConsumers: 3}, "too many open files", true},
		{"setup bound", setup{dests: []int{1, 4}, conns: []int{2}, hang: "-scale-1-"}, "setup did not finish within", true},
		{"no step runs", setup{dests: []int{5, 6}, maxConsumers: 3}, "too many open files", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, lim := run(t, tt.s)
			if res.Verdict.Pass != tt.wantPass {
				t.Fatalf("verdict %+v, want pass %v", res.Verdict, tt.wantPass)
			}
			if !hasNote(res, tt.note) || !hasNote(res, "could not run") {
				t.Fatalf("notes %v lack %q", res.Notes, tt.note)
			}
			steps := len(tt.s.dests) + len(tt.s.conns)
			if res.Metrics[scale.MetricSteps].Value != float64(steps) {
				t.Fatalf("%g steps attempted, want %d", res.Metrics[scale.MetricSteps].Value, steps)
			}
			if lim.cleanups.Load() != lim.provisions.Load() || lim.open.Load() != 0 {
				t.Fatalf("%d provisioned, %d cleaned up, %d consumers open", lim.provisions.Load(), lim.cleanups.Load(), lim.open.Load())
			}
			if a := res.Accounting; a.Lost != 0 || a.Received != a.Confirmed {
				t.Fatalf("accounting %+v", a)
			}
		})
	}
}

// TestLossFails: loss in a step fails the verdict.
func TestLossFails(t *testing.T) {
	res, _ := run(t, setup{opts: memory.Options{Faults: memory.Faults{DropEvery: 20}}, dests: []int{1}, drain: 300 * time.Millisecond})
	if res.Verdict.Pass || res.Accounting.Lost == 0 {
		t.Fatalf("verdict %+v lost %d", res.Verdict, res.Accounting.Lost)
	}
}

// TestCancel: cancelling after the first step returns what was measured,
// with Accounting.Complete false, and says which steps did not run.
func TestCancel(t *testing.T) {
	res, _ := run(t, setup{dests: []int{1, 2}, conns: []int{2}, cancel: true})
	a := res.Accounting
	if a.Complete || !res.Verdict.Pass || a.Confirmed == 0 {
		t.Fatalf("complete %v verdict %+v accounting %+v", a.Complete, res.Verdict, a)
	}
	if !hasNote(res, "not run: interrupted") {
		t.Fatalf("notes %v", res.Notes)
	}
}
