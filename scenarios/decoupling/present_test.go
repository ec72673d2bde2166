package decoupling

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
)

func TestPresentation(t *testing.T) {
	good := func() *result.Result {
		r := &result.Result{}
		for n, v := range map[string]float64{MetricOrdersLostMQ: 0, MetricOrdersFailedDirect: 30, MetricBacklogPeak: 200,
			MetricStockConsistent: 1, MetricE2EP99: 4000} {
			r.SetMetric(n, v, "")
		}
		return r
	}
	tests := []struct {
		name    string
		mutate  func(r *result.Result)
		wantErr string
	}{
		{"accepted", func(*result.Result) {}, ""},
		{"an order lost", func(r *result.Result) { r.SetMetric(MetricOrdersLostMQ, 1, "count") }, "orders lost (mq) 1"},
		{"no outage seen", func(r *result.Result) { r.SetMetric(MetricOrdersFailedDirect, 0, "count") }, "direct orders failed 0"},
		{"no backlog", func(r *result.Result) { r.SetMetric(MetricBacklogPeak, 0, "orders") }, "backlog peak 0"},
		{"stock off", func(r *result.Result) { r.SetMetric(MetricStockConsistent, 0, "bool") }, "stock consistent 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			tt.mutate(r)
			err := Scenario{}.Accept(r, driver.Capabilities{})
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Accept: %v, want %q", err, tt.wantErr)
			}
		})
	}
	if h := (Scenario{}).Headline(good()); !h.Ok || h.Value != 0 || h.Label != "orders lost (mq)" {
		t.Errorf("headline %+v", h)
	}
	if h := (Scenario{}).Headline(&result.Result{}); h.Ok {
		t.Errorf("headline %+v on a result without the figure, want not Ok", h)
	}
}
