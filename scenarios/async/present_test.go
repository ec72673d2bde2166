package async

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
)

func TestPresentation(t *testing.T) {
	good := func() *result.Result {
		r := &result.Result{}
		for n, v := range map[string]float64{MetricResponseP50Serial: 150, MetricResponseP50Parallel: 100, MetricResponseP50MQ: 2,
			MetricResponseP99MQ: 9, MetricRegistrations: 10, MetricEmailsSent: 10, MetricSMSSent: 10} {
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
		{"queue not fastest", func(r *result.Result) { r.SetMetric(MetricResponseP50MQ, 120, "ms") }, "want mq < parallel < serial"},
		{"an SMS missing", func(r *result.Result) { r.SetMetric(MetricSMSSent, 9, "count") }, "sms 9"},
		{"nothing registered", func(r *result.Result) { *r = result.Result{} }, "registrations 0"},
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
	r := good()
	if h := (Scenario{}).Headline(r); !h.Ok || h.Value != 2 {
		t.Errorf("headline %+v, want the mq p50 (2)", h)
	}
	if l := (Scenario{}).Scoring(r).Latency; !l.Ok || l.Value != 9 {
		t.Errorf("deciding latency %+v, want the mq p99 (9)", l)
	}
}
