package transaction

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
)

func TestPresentation(t *testing.T) {
	good := func() *result.Result {
		r := &result.Result{}
		for n, v := range map[string]float64{MetricOrders: 50, MetricDuplicatesApplied: 0, MetricOutboxRemaining: 0,
			MetricHistoryRows: 50, MetricConsistent: 1, MetricNative: 0, MetricTTCP99: 120} {
			r.SetMetric(n, v, "")
		}
		return r
	}
	tests := []struct {
		name    string
		mutate  func(r *result.Result)
		caps    driver.Capabilities
		wantErr string
	}{
		{"accepted", func(*result.Result) {}, driver.Capabilities{}, ""},
		{"applied twice", func(r *result.Result) { r.SetMetric(MetricDuplicatesApplied, 1, "count") }, driver.Capabilities{}, "duplicates applied 1"},
		{"outbox left", func(r *result.Result) { r.SetMetric(MetricOutboxRemaining, 2, "count") }, driver.Capabilities{}, "outbox remaining 2"},
		{"history short", func(r *result.Result) { r.SetMetric(MetricHistoryRows, 49, "count") }, driver.Capabilities{}, "history rows 49"},
		{"native unused", func(*result.Result) {}, driver.Capabilities{NativeTransaction: true}, "native mode 0"},
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
	if h := (Scenario{}).Headline(good()); !h.Ok || h.Value != 120 {
		t.Errorf("headline %+v, want ttc p99 (120)", h)
	}
}
