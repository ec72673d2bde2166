package backlog

import (
	"errors"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
)

// presented is a drained backlog result with every figure the
// presentation reads; RabbitMQ-like: the broker blocked producers.
func presented() *result.Result {
	r := &result.Result{Accounting: result.Accounting{Confirmed: 102400, Received: 102400}}
	for n, v := range map[string]float64{
		MetricBacklogMessages: 102400, MetricBacklogBytes: 100 << 20, MetricAccumulateS: 20.5, MetricAccPublishRate: 4995,
		MetricReachedTarget: 1, MetricTargetBytes: 100 << 20, MetricBrokerRSSPeak: 1700, MetricBrokerRSSAcc: 1638.4, MetricBrokerDiskPeak: 300,
		MetricBlockedS: 12.4, MetricBlockedAccS: 9.1, MetricBlockEvents: 1, MetricSlowedS: 11, MetricStalledSends: 0, MetricLongestSendMs: 9000,
		MetricSendFailures: 0, MetricDrainRate: 7200, MetricDrainRateToEmpty: 5000, MetricDrainS: 14.2, MetricCatchUpS: 10.1, MetricDrainProduceRate: 1000,
		MetricRemaining: 0, MetricOldestAgeMs: 31000,
	} {
		r.SetMetric(n, v, "")
	}
	r.Notes = []string{blockNote(12.4, 9.1, "connection.blocked: low on memory (1×)")}
	return r
}

func TestAccept(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(r *result.Result)
		wantErr string
	}{
		{"drained, nothing lost", func(*result.Result) {}, ""},
		{"blocking is not a failure", func(r *result.Result) { r.SetMetric(MetricBlockedS, 300, "s") }, ""},
		{"the time bound ending accumulation is not a failure", func(r *result.Result) { r.SetMetric(MetricReachedTarget, 0, "bool") }, ""},
		{"refused sends are not a failure", func(r *result.Result) { r.SetMetric(MetricSendFailures, 40, "count") }, ""},
		{"lost", func(r *result.Result) { r.Accounting.Lost = 3 }, "lost 3"},
		{"not drained", func(r *result.Result) {
			delete(r.Metrics, MetricDrainS)
			r.SetMetric(MetricRemaining, 500, "count")
		}, "not drained (500 remaining)"},
		{"no backlog", func(r *result.Result) { r.SetMetric(MetricBacklogMessages, 0, "count") }, "backlog of 0"},
		{"nothing drained", func(r *result.Result) { r.SetMetric(MetricDrainRate, 0, "msg/s") }, "drain rate 0"},
		{"empty result", func(r *result.Result) { *r = result.Result{} }, "backlog of 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := presented()
			tt.mutate(r)
			err := Scenario{}.Accept(r, driver.Capabilities{})
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Accept: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestScoring(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(r *result.Result)
		wantBlock  float64
		wantBlocOk bool
	}{
		{"the broker's blocking when longer", func(*result.Result) {}, 12.4, true},
		{"stalls when longer", func(r *result.Result) { r.SetMetric(MetricSlowedS, 20, "s") }, 20, true},
		{"stalls when the driver reports no blocks", func(r *result.Result) { delete(r.Metrics, MetricBlockedS) }, 11, true},
		{"neither", func(r *result.Result) { r.Metrics = nil }, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := presented()
			tt.mutate(r)
			sc := Scenario{}.Scoring(r)
			if len(sc.Extra) != 1 {
				t.Fatalf("Extra %+v, want producer blocking alone", sc.Extra)
			}
			x := sc.Extra[0]
			if x.Ok != tt.wantBlocOk || (x.Ok && x.Value != tt.wantBlock) || !x.LowerIsBetter || x.Weight != "latency" {
				t.Errorf("producer blocking %+v, want %v (ok %v), lower is better, under latency", x, tt.wantBlock, tt.wantBlocOk)
			}
		})
	}
	r := presented()
	if th := (Scenario{}).Scoring(r).Throughput; !th.Ok || th.Value != 7200 {
		t.Errorf("throughput %+v, want the drain rate 7200", th)
	}
	if h := (Scenario{}).Headline(r); !h.Ok || h.Value != 7200 {
		t.Errorf("headline %+v, want the drain rate 7200", h)
	}
	if l := (Scenario{}).Scoring(r).Latency; l.Ok {
		t.Errorf("latency %+v scored, want none", l)
	}
}

func TestFindings(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(r *result.Result)
		want    []string // substrings, each in some finding
		notWant []string
	}{
		{"blocked by the memory alarm", func(*result.Result) {}, []string{
			"built a backlog of 102400 messages (100 MiB) in 20.5 s at 4995 msg/s; the broker peaked at RSS 1.7 GiB and data directory 300 MiB",
			"publishers blocked 12.4 s by the broker (9.1 s while accumulating), in its words: connection.blocked: low on memory (1×); broker RSS up to 1.6 GiB while accumulating",
			"consumers caught up after 10.1 s at 7200 msg/s, drained in 14.2 s, while producers sent 1000 msg/s; the oldest message waited 31.0 s",
		}, []string{"lost", "failed", "short of", "stalled"}},
		{"refused, not blocked (ActiveMQ ERROR frames)", func(r *result.Result) {
			r.SetMetric(MetricBlockedS, 0, "s")
			r.SetMetric(MetricBlockEvents, 40, "count")
			r.SetMetric(MetricSendFailures, 40, "count")
			r.Notes = []string{blockNote(0, 0, "ERROR frame: usage limit reached (40×)"), lastSendErrNote + "activemq: send: ERROR: usage limit"}
		}, []string{"the broker refused publishers 40 times without blocking them, in its words: ERROR frame: usage limit reached (40×)",
			"40 sends failed, the last with: activemq: send: ERROR: usage limit"}, []string{"publishers blocked"}},
		{"slowed silently (no block reporting)", func(r *result.Result) {
			delete(r.Metrics, MetricBlockedS)
			r.SetMetric(MetricStalledSends, 7, "count")
			r.Notes = nil
		}, []string{"7 sends stalled, covering 11.0 s (longest send 9.0 s): the broker slowed publishers without saying so"}, []string{"blocked"}},
		{"not blocked, not slowed", func(r *result.Result) {
			r.SetMetric(MetricBlockedS, 0, "s")
			r.SetMetric(MetricBlockEvents, 0, "count")
		}, []string{"the broker neither blocked nor slowed publishers"}, []string{"in its words"}},
		{"no block reporting, no stall", func(r *result.Result) { delete(r.Metrics, MetricBlockedS) },
			[]string{"no send stalled (the driver does not report broker blocks)"}, []string{"neither"}},
		{"time bound, not drained, lost", func(r *result.Result) {
			r.SetMetric(MetricReachedTarget, 0, "bool")
			delete(r.Metrics, MetricDrainS)
			r.SetMetric(MetricRemaining, 500, "count")
			r.Accounting.Lost = 2
			delete(r.Metrics, MetricCatchUpS)
		}, []string{"short of the 100 MiB target when the time bound passed", "not drained: never caught up, 500 messages remained at the bound, received at 7200 msg/s",
			"lost 2 confirmed messages"}, []string{"drained in"}},
		{"caught up, not drained", func(r *result.Result) {
			delete(r.Metrics, MetricDrainS)
			r.SetMetric(MetricRemaining, 40, "count")
		}, []string{"consumers caught up after 10.1 s at 7200 msg/s, but 40 messages remained at the bound"}, []string{"drained in"}},
		{"drained without a catch-up figure", func(r *result.Result) { delete(r.Metrics, MetricCatchUpS) },
			[]string{"drained in 14.2 s at 7200 msg/s, while producers sent 1000 msg/s"}, []string{"caught up"}},
		{"empty result", func(r *result.Result) { *r = result.Result{} }, nil, []string{"backlog", "drain", "blocked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := presented()
			tt.mutate(r)
			got := strings.Join(Scenario{}.Findings(r), "\n")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("findings lack %q:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("findings say %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestBlockNoteRoundTrip keeps the note result.go writes readable by the
// findings.
func TestBlockNoteRoundTrip(t *testing.T) {
	why := "connection.blocked: low on memory (2×); connection.blocked: low on disk (1×)"
	if got := noteAfter([]string{"other", blockNote(3, 1.5, why)}, blockNotePrefix, blockReasonsSep); got != why {
		t.Errorf("reasons %q, want %q", got, why)
	}
	err := errors.New("boom")
	if got := noteAfter([]string{lastSendErrNote + err.Error()}, lastSendErrNote, ""); got != "boom" {
		t.Errorf("last send error %q, want boom", got)
	}
}
