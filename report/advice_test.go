package report

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/report/result"
)

// capacityResult is a passing capacity result of broker with maximum top
// (msg/s; absent when below 0) and end-to-end p99 at the maximum p99 (ms).
func capacityResult(broker string, top, p99 float64) *result.Result {
	r := &result.Result{SchemaVersion: result.SchemaVersion, Scenario: "capacity", Broker: result.Broker{Name: broker},
		Status: result.StatusComplete, Verdict: result.Verdict{Pass: true},
		Accounting: result.Accounting{Sent: 1000, Confirmed: 1000, Received: 1000, Deliveries: 1000, Groups: 1, Complete: true}}
	if top >= 0 {
		r.SetMetric("max_sustainable_msgs", top, "msg/s")
	}
	r.SetMetric("curve_e2e_p99_ms_100", p99, "ms")
	return r
}

// TestAdviceCapacityThroughput checks that the advice reads capacity's
// maximum sustainable rate as its throughput: with the latencies tied it
// decides the ranking, a broker without the figure scores 0 on it, and
// the overall advice follows when the other scenarios tie too.
func TestAdviceCapacityThroughput(t *testing.T) {
	brokers := []string{"a", "b", "c"}
	tests := []struct {
		name    string
		results []*result.Result
		w       Weights
		order   []string  // the ranking, best first
		thr     []float64 // the throughput scores in ranking order
		reason  string
	}{
		{"the maximum decides a latency tie",
			[]*result.Result{capacityResult("a", 4000, 30), capacityResult("b", 8000, 30), capacityResult("c", 6000, 30)},
			DefaultWeights(), []string{"b", "c", "a"}, []float64{1, 0.75, 0.5},
			"decided by throughput (8000 msg/s max sustainable vs 6000 msg/s max sustainable for c)"},
		{"a broker without a maximum scores 0 on it",
			[]*result.Result{capacityResult("a", -1, 30), capacityResult("b", 8000, 30), capacityResult("c", 2000, 30)},
			DefaultWeights(), []string{"b", "c", "a"}, []float64{1, 0.25, 0}, "b scores"},
		{"a maximum of 0 scores 0",
			[]*result.Result{capacityResult("a", 0, 30), capacityResult("b", 100, 30)},
			DefaultWeights(), []string{"b", "a"}, []float64{1, 0}, "decided by throughput"},
		{"lower latency outweighs a small throughput edge under latency weight",
			[]*result.Result{capacityResult("a", 8000, 40), capacityResult("b", 7600, 10)},
			Weights{Latency: 5, Throughput: 1}, []string{"b", "a"}, []float64{0.95, 1}, "decided by latency (end-to-end p99 at the maximum 10 ms"},
		{"throughput not weighed: a tie",
			[]*result.Result{capacityResult("a", 4000, 30), capacityResult("b", 8000, 30)},
			Weights{Latency: 1, Reliability: 1}, []string{"a", "b"}, []float64{0.5, 1}, "treat them as equal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adv := Advise("capacity", presenterFor("capacity"), tt.results, brokers, tt.w)
			var order []string
			for i, rk := range adv.Ranking {
				order = append(order, rk.Broker)
				if p, ok := rk.Parts["throughput"]; !ok || p.Score != tt.thr[i] {
					t.Errorf("%s: throughput part %+v (present %v), want score %v", rk.Broker, p, ok, tt.thr[i])
				}
			}
			if strings.Join(order, ",") != strings.Join(tt.order, ",") {
				t.Fatalf("ranking %v, want %v (reason: %s)", order, tt.order, adv.Reason)
			}
			if adv.Winner != tt.order[0] || !strings.Contains(adv.Reason, tt.reason) {
				t.Fatalf("winner %q, reason %q; want %q and %q", adv.Winner, adv.Reason, tt.order[0], tt.reason)
			}
		})
	}
}

// TestOverallWeighsCapacity: two scenarios where the brokers tie on
// everything but capacity's maximum; the overall advice follows it.
func TestOverallWeighsCapacity(t *testing.T) {
	brokers := []string{"a", "b"}
	capAdv := Advise("capacity", presenterFor("capacity"),
		[]*result.Result{capacityResult("a", 3000, 20), capacityResult("b", 9000, 20)}, brokers, DefaultWeights())
	var tied []*result.Result
	for _, b := range brokers {
		r := capacityResult(b, 5000, 20)
		r.Scenario, r.Latency = "async", result.Latencies{"end_to_end": {Count: 100, P99: 12}}
		tied = append(tied, r)
	}
	asyncAdv := Advise("async", presenterFor("async"), tied, brokers, DefaultWeights())
	if asyncAdv.Ranking[0].Score != asyncAdv.Ranking[1].Score {
		t.Fatalf("async scores differ: %+v", asyncAdv.Ranking)
	}
	all := Overall([]Advice{asyncAdv, capAdv}, brokers)
	if all.Winner != "b" || all.Ranking[0].Parts["capacity"].Score <= all.Ranking[1].Parts["capacity"].Score {
		t.Fatalf("overall winner %q (%s), want b by capacity: %+v", all.Winner, all.Reason, all.Ranking)
	}
	// Without capacity's result, b is missing it and is not recommended.
	missing := Advise("capacity", presenterFor("capacity"), []*result.Result{capacityResult("a", 3000, 20)}, brokers, DefaultWeights())
	if o := Overall([]Advice{asyncAdv, missing}, brokers); o.Winner != "a" || len(o.Missing) != 1 || !strings.HasPrefix(o.Missing[0], "b (capacity") {
		t.Fatalf("overall winner %q missing %v, want a with b missing capacity", o.Winner, o.Missing)
	}
}
