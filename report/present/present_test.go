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

func TestCurveRead(t *testing.T) {
	nan := math.NaN()
	r := &result.Result{Series: map[string][]float64{"x": {3, 1, nan, 2}, "y": {30, 10, 5, 20}, "short": {1}}}
	r.SetMetric("x1", 100, "")
	r.SetMetric("y1", 7, "")
	r.SetMetric("x2", 200, "")
	r.SetMetric("y2", 9, "")
	tests := []struct {
		name   string
		c      Curve
		pts    []XY
		max    XY
		marked bool
	}{
		{"series, the largest finite x marked", Curve{XSeries: "x", YSeries: "y"}, []XY{{X: 3, Y: 30}, {X: 1, Y: 10}, {X: nan, Y: 5}, {X: 2, Y: 20}}, XY{X: 3, Y: 30}, true},
		{"series of different lengths", Curve{XSeries: "x", YSeries: "short"}, nil, XY{}, false},
		{"missing series", Curve{XSeries: "nope", YSeries: "y"}, nil, XY{}, false},
		{"metrics, a point missing", Curve{Points: []Point{{X: "x1", Y: "y1"}, {X: "x2", Y: "nope"}, {X: "x2", Y: "y2"}}, Max: Point{X: "x1", Y: "y1"}},
			[]XY{{X: 100, Y: 7}, {X: 200, Y: 9}}, XY{X: 100, Y: 7}, true},
		{"metrics, the mark missing", Curve{Points: []Point{{X: "x1", Y: "y1"}}, Max: Point{X: "x9", Y: "y9"}}, []XY{{X: 100, Y: 7}}, XY{}, false},
		{"nothing named", Curve{}, nil, XY{}, false},
	}
	same := func(a, b XY) bool {
		eq := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
		return eq(a.X, b.X) && eq(a.Y, b.Y)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pts, max, marked := tt.c.Read(r)
			ok := len(pts) == len(tt.pts) && marked == tt.marked && (!marked || same(max, tt.max))
			for i := 0; ok && i < len(pts); i++ {
				ok = same(pts[i], tt.pts[i])
			}
			if !ok {
				t.Fatalf("got %v, mark %v %v; want %v, mark %v %v", pts, max, marked, tt.pts, tt.max, tt.marked)
			}
		})
	}
}
