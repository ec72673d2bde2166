package failover

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// presented is a passing kill-mode result with every figure the
// presentation reads.
func presented() *result.Result {
	r := &result.Result{Accounting: result.Accounting{Sent: 31000, Confirmed: 30000, Unconfirmed: 1000, Received: 30000, Duplicated: 12}}
	for n, v := range map[string]float64{
		MetricFaults: 1, MetricRolling: 0, MetricProducerUnavailable: 2.5, MetricConsumerUnavailable: 3.25,
		MetricProducerRecovered: 1, MetricConsumerRecovered: 1, MetricUntilRestart: 0, MetricRejoined: 1,
		MetricRateBackS: 6, MetricInSyncS: 9, MetricE2EP99During: 3100,
	} {
		r.SetMetric(n, v, "")
	}
	return r
}

func TestAccept(t *testing.T) {
	for _, tt := range []struct {
		name    string
		mutate  func(r *result.Result)
		wantErr string
	}{
		{"failed over, nothing lost", func(*result.Result) {}, ""},
		{"duplicates are not a failure", func(r *result.Result) { r.Accounting.Duplicated = 5000 }, ""},
		{"lost", func(r *result.Result) { r.Accounting.Lost = 3 }, "lost 3"},
		{"no failover", func(r *result.Result) { r.SetMetric(MetricUntilRestart, 1, "bool") }, "no failover"},
		{"producers never back", func(r *result.Result) { r.SetMetric(MetricProducerRecovered, 0, "bool") }, "producers never served again"},
		{"node did not rejoin", func(r *result.Result) { r.SetMetric(MetricRejoined, 0, "bool") }, "did not rejoin"},
		{"no fault", func(r *result.Result) { r.SetMetric(MetricFaults, 0, "count") }, "faults 0"},
		{"empty result", func(r *result.Result) { *r = result.Result{} }, "faults 0"},
	} {
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

// TestHeadlineAndScoring: the headline and the availability criterion are
// the longer unavailability; an empty result has neither.
func TestHeadlineAndScoring(t *testing.T) {
	r := presented()
	if h := (Scenario{}).Headline(r); !h.Ok || h.Value != 3.25 || h.Unit != "s" {
		t.Fatalf("headline %+v, want the consumers' 3.25 s", h)
	}
	sc := (Scenario{}).Scoring(r)
	if len(sc.Extra) != 2 || sc.Extra[0].Value != 3.25 || !sc.Extra[0].LowerIsBetter || sc.Extra[0].Weight != "reliability" ||
		!strings.HasPrefix(sc.Extra[0].Label, "availability") {
		t.Fatalf("availability criterion %+v", sc.Extra)
	}
	if sc.Throughput.Ok || !sc.Latency.Ok || sc.Latency.Value != 3100 {
		t.Fatalf("scoring %+v: want no throughput, latency 3100", sc)
	}
	empty := &result.Result{}
	s := Scenario{}
	if s.Headline(empty).Ok || s.Scoring(empty).Extra[0].Ok || s.Findings(empty) != nil {
		t.Fatal("an empty result has figures")
	}
	var _ present.Unmeasured = Scenario{}
	var _ present.Finder = Scenario{}
}

func TestFindings(t *testing.T) {
	r := presented()
	r.SetMetric(MetricUntilRestart, 1, "bool")
	r.Accounting.Lost = 7
	delete(r.Metrics, MetricRateBackS)
	got := strings.Join((Scenario{}).Findings(r), "\n")
	for _, want := range []string{"producers unavailable 2.5 s, consumers 3.2 s: no failover", "lost 7, duplicated 12",
		"not back at the target before the load ended", "back in sync 9.0 s after its start"} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
}
