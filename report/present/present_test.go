package present

import (
	"math"
	"testing"

	"github.com/mqbench/mqbench/report/result"
)

func TestFigures(t *testing.T) {
	r := &result.Result{Latency: result.Latencies{"end_to_end": {Count: 3, P99: 7}}}
	r.SetMetric("a", 2, "ms")
	r.SetMetric("nan", math.NaN(), "ms")
	tests := []struct {
		name  string
		got   Figure
		ok    bool
		value float64
		label string
	}{
		{"metric", Metric(r, "a", "A", "ms"), true, 2, "A"},
		{"missing metric", Metric(r, "b", "B", "ms"), false, 0, "B"},
		{"NaN metric", Metric(r, "nan", "N", "ms"), false, math.NaN(), "N"},
		{"end-to-end", EndToEndP99(r), true, 7, "end-to-end p99"},
		{"no end-to-end", EndToEndP99(&result.Result{}), false, 0, "end-to-end p99"},
		{"received 0", Received(r), false, 0, "received"},
		{"first ok", First(Metric(r, "b", "B", ""), Metric(r, "a", "A", "")), true, 2, "A"},
		{"none ok: the last", First(Metric(r, "b", "B", ""), Metric(r, "c", "C", "")), false, 0, "C"},
		{"none given", First(), false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.got
			if g.Ok != tt.ok || g.Label != tt.label || (tt.ok && g.Value != tt.value) {
				t.Fatalf("got %+v, want ok %v value %v label %q", g, tt.ok, tt.value, tt.label)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	var c Check
	if c.Err() != nil {
		t.Fatal("a fresh Check has an error")
	}
	c.Expect(true, "never %d", 1)
	c.Expect(false, "first %d", 1)
	c.Expect(false, "second")
	if err := c.Err(); err == nil || err.Error() != "first 1; second" {
		t.Fatalf("err %v, want both problems in order", err)
	}
}
