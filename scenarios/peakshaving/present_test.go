package peakshaving

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
)

func TestPresentation(t *testing.T) {
	good := func() *result.Result {
		r := &result.Result{}
		for n, v := range map[string]float64{MetricOversold: 0, MetricRejected: 900, MetricAccepted: 100, MetricRequests: 1000,
			MetricSold: 100, MetricStockInitial: 100, MetricAdmissionBroker: 1, MetricAcceptP99: 3} {
			r.SetMetric(n, v, "")
		}
		return r
	}
	rabbit := driver.Capabilities{MaxLengthReject: true}
	tests := []struct {
		name    string
		mutate  func(r *result.Result)
		caps    driver.Capabilities
		wantErr string
	}{
		{"accepted", func(*result.Result) {}, rabbit, ""},
		{"oversold", func(r *result.Result) { r.SetMetric(MetricOversold, 1, "count") }, rabbit, "oversold 1"},
		{"a request unaccounted", func(r *result.Result) { r.SetMetric(MetricRequests, 1001, "count") }, rabbit, "want requests 1001"},
		{"sold too few", func(r *result.Result) { r.SetMetric(MetricSold, 99, "count") }, rabbit, "sold 99, want 100"},
		{"admission by the wrong side", func(*result.Result) {}, driver.Capabilities{}, "admission by broker 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			tt.mutate(r)
			err := Scenario{}.Accept(r, tt.caps)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Accept: %v, want %q", err, tt.wantErr)
			}
		})
	}
	if l := (Scenario{}).Scoring(good()).Latency; !l.Ok || l.Value != 3 {
		t.Errorf("deciding latency %+v, want accept p99 (3)", l)
	}
}
