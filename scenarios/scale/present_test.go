package scale

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
)

// presented is a quick scale result: dest1, dest10, dest100, conn1 and
// conn10 ran clean, dest1000 could not run.
func presented() *result.Result {
	r := &result.Result{Accounting: result.Accounting{Confirmed: 25000, Received: 25000}}
	ran := map[string][3]float64{ // received/s, e2e p99, RSS
		"dest1": {1000, 3.1, 120}, "dest10": {999, 4, 150}, "dest100": {985, 12.4, 340}, "conn1": {1000, 3, 121}, "conn10": {998, 5.5, 180},
	}
	for name, v := range ran {
		set := func(suffix string, x float64) { r.SetMetric(StepMetric(name, suffix), x, "") }
		set(SuffixOK, 1)
		set(SuffixReceivedPerS, v[0])
		set(SuffixE2EP99, v[1])
		set(SuffixBrokerRSS, v[2])
		set(SuffixConfirmed, 5000)
		set(SuffixLost, 0)
		set(SuffixDrained, 1)
		set(SuffixSendFailures, 0)
	}
	r.SetMetric(StepMetric("dest1000", SuffixOK), 0, "bool")
	r.SetMetric(MetricSteps, 6, "count")
	r.SetMetric(MetricStepsFailed, 1, "count")
	r.Notes = []string{"step dest1000 (1000 destinations, one producer and one consumer each" + notRunSep +
		"consumer 412 of 1000: setup did not finish within 1m0s: Exception (403) resource_locked"}
	return r
}

func TestAccept(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(r *result.Result)
		wantErr string
	}{
		{"a step that could not run, with its error, is a finding", func(*result.Result) {}, ""},
		{"a step that could not run, silently", func(r *result.Result) { r.Notes = nil }, "step dest1000 could not run and no note"},
		{"a step lost messages", func(r *result.Result) {
			r.SetMetric(StepMetric("dest10", SuffixLost), 2, "count")
			r.Accounting.Lost = 2
		}, "step dest10 lost 2"},
		{"a step did not drain", func(r *result.Result) { r.SetMetric(StepMetric("conn10", SuffixDrained), 0, "bool") }, "step conn10 not drained"},
		{"a step is not reported", func(r *result.Result) { r.SetMetric(MetricSteps, 7, "count") }, "6 steps reported, 7 attempted"},
		{"no step ran", func(r *result.Result) {
			for _, s := range stepsOf(r) {
				r.SetMetric(StepMetric(s.name, SuffixOK), 0, "bool")
			}
		}, "no step ran"},
		{"empty result", func(r *result.Result) { *r = result.Result{} }, "0 steps reported"},
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

func TestKept(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *result.Result)
		want   float64
		wantOk bool
	}{
		{"both ran", func(*result.Result) {}, 98.5, true},
		{"100 destinations could not run", func(r *result.Result) { r.SetMetric(StepMetric("dest100", SuffixOK), 0, "bool") }, 0, false},
		{"1 destination received nothing", func(r *result.Result) { r.SetMetric(StepMetric("dest1", SuffixReceivedPerS), 0, "msg/s") }, 0, false},
		{"no such steps", func(r *result.Result) { r.Metrics = nil }, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := presented()
			tt.mutate(r)
			h := Scenario{}.Headline(r)
			th := Scenario{}.Scoring(r).Throughput
			if h.Ok != tt.wantOk || th.Ok != tt.wantOk || (tt.wantOk && (h.Value != tt.want || th.Value != tt.want)) || h.Unit != "%" {
				t.Fatalf("headline %+v, scored %+v, want %v%% (ok %v)", h, th, tt.want, tt.wantOk)
			}
		})
	}
	if l := (Scenario{}).Scoring(presented()).Latency; !l.Ok || l.Value != 12.4 {
		t.Errorf("scored latency %+v, want the e2e p99 at 100 destinations (12.4)", l)
	}
}

func TestFindings(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(r *result.Result)
		want    []string
		notWant []string
	}{
		{"quick run, one step could not run", func(*result.Result) {}, []string{
			"kept 98% of its 1-destination throughput at 100 destinations (985 vs 1000 msg/s received)",
			"by destinations (1, 10, 100, one producer and one consumer each): received 1000, 999, 985 msg/s; end-to-end p99 3.1, 4.0, 12.4 ms; broker peak RSS 120, 150, 340 MiB",
			"by connections (1, 10 producers and as many consumers on one destination): received 1000, 998 msg/s; end-to-end p99 3.0, 5.5 ms; broker peak RSS 121, 180 MiB",
			"step dest1000 could not run on this machine: consumer 412 of 1000: setup did not finish within 1m0s: Exception (403) resource_locked",
		}, []string{"lost", "drain", "failed"}},
		{"loss, no drain, failed sends", func(r *result.Result) {
			r.SetMetric(StepMetric("conn10", SuffixLost), 4, "count")
			r.SetMetric(StepMetric("conn10", SuffixDrained), 0, "bool")
			r.SetMetric(StepMetric("dest10", SuffixSendFailures), 7, "count")
		}, []string{"step conn10 lost 4 confirmed messages", "step conn10 did not drain within the bound", "step dest10: 7 sends failed"}, nil},
		{"no RSS, 100 destinations could not run", func(r *result.Result) {
			for _, s := range stepsOf(r) {
				delete(r.Metrics, StepMetric(s.name, SuffixBrokerRSS))
			}
			r.SetMetric(StepMetric("dest100", SuffixOK), 0, "bool")
		}, []string{"by destinations (1, 10, one", "step dest100 could not run on this machine"}, []string{"RSS", "kept", "dest100 could not run on this machine:"}},
		{"empty result", func(r *result.Result) { *r = result.Result{} }, nil, []string{"kept", "by destinations", "step"}},
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

func TestCharts(t *testing.T) {
	var labels []string
	for _, c := range (Scenario{}).Charts() {
		for _, b := range c.Bars {
			if c.Title == "received rate per step" {
				labels = append(labels, b.Label+"="+b.Metric)
			}
		}
	}
	want := "1 dest.=dest1_received_per_s,10 dest.=dest10_received_per_s,100 dest.=dest100_received_per_s,1000 dest.=dest1000_received_per_s," +
		"1 conn.=conn1_received_per_s,10 conn.=conn10_received_per_s,100 conn.=conn100_received_per_s"
	if got := strings.Join(labels, ","); got != want {
		t.Errorf("bars %s, want %s", got, want)
	}
}
