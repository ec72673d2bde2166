package stats

import (
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	cases := []struct {
		name         string
		xs           []float64
		n            int
		med, lo, hi  float64
		conf         float64
		repeated     bool
		intervalText string
	}{
		{"empty", nil, 0, 0, 0, 0, 0, false, ""},
		{"non-finite only", []float64{math.NaN(), math.Inf(1)}, 0, 0, 0, 0, 0, false, ""},
		{"one", []float64{3}, 1, 3, 3, 3, 0, false, ""},
		{"two: min-max at 50%", []float64{4, 2}, 2, 3, 2, 4, 0.5, true, "[2–4], 50% CI of 2 runs"},
		{"three: 75%", []float64{5, 1, 3, math.NaN()}, 3, 3, 1, 5, 0.75, true, "[1–5], 75% CI of 3 runs"},
		{"five: 93.75%", []float64{1, 2, 3, 4, 5}, 5, 3, 1, 5, 0.9375, true, "[1–5], 93% CI of 5 runs"},
		{"six: 96.9%", []float64{6, 5, 4, 3, 2, 1}, 6, 3.5, 1, 6, 1 - 2.0/64, true, "[1–6], 96% CI of 6 runs"},
		// n=9: j=2 covers 1-2*P(B<=1)=1-2*10/512=0.961; j=3 gives 0.820.
		{"nine: second order statistics", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 9, 5, 2, 8, 1 - 20.0/512, true, "[2–8], 96% CI of 9 runs"},
	}
	num := func(f float64) string { return trim(f) }
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Summarize(c.xs)
			if s.N != c.n || s.Median != c.med || s.Lo != c.lo || s.Hi != c.hi || math.Abs(s.Confidence-c.conf) > 1e-9 {
				t.Fatalf("got %+v, want n=%d median=%g [%g,%g] conf=%g", s, c.n, c.med, c.lo, c.hi, c.conf)
			}
			if s.Repeated() != c.repeated {
				t.Errorf("Repeated() = %v", s.Repeated())
			}
			if got := s.Interval(num); got != c.intervalText {
				t.Errorf("Interval = %q, want %q", got, c.intervalText)
			}
			if s.N >= MinRepeatsForLevel && s.Confidence < Level {
				t.Errorf("%d repeats reach only %g", s.N, s.Confidence)
			}
		})
	}
}

func TestOverlaps(t *testing.T) {
	a := Summarize([]float64{1, 2, 3})
	cases := []struct {
		name string
		b    Summary
		want bool
	}{
		{"inside", Summarize([]float64{2, 2.5}), true},
		{"touching", Summarize([]float64{3, 4}), true},
		{"apart", Summarize([]float64{3.1, 4}), false},
		{"empty", Summary{}, false},
	}
	for _, c := range cases {
		if got := a.Overlaps(c.b); got != c.want || c.b.Overlaps(a) != c.want {
			t.Errorf("%s: Overlaps = %v, want %v", c.name, got, c.want)
		}
	}
	if Summarize([]float64{1}).Overlaps(Summarize([]float64{2})) {
		t.Error("two different single runs overlap")
	}
}

func trim(f float64) string {
	if f == math.Trunc(f) {
		return string(rune('0' + int(f)))
	}
	return "?"
}
