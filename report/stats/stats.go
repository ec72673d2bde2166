// Package stats summarises the repeats of one measurement: their median
// and a distribution-free confidence interval for it.
//
// The interval is the order-statistic (sign-test) interval for the median:
// with n sorted values x(1) ≤ … ≤ x(n), the interval [x(j), x(n+1−j)]
// covers the true median with probability 1 − 2·P(B ≤ j−1), B ~
// Binomial(n, ½), whatever the distribution of the values (latencies are
// skewed, so no normality is assumed). Summarize picks the narrowest such
// interval whose coverage is at least 95%. Below 6 repeats no interval
// reaches 95%: the interval is then the full range, min–max, and
// Confidence says what it does reach (50% at 2 repeats, 75% at 3, 87.5% at
// 4, 93.75% at 5).
package stats

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Level is the confidence the interval aims at.
const Level = 0.95

// MinRepeatsForLevel is the fewest repeats whose min–max range covers
// the median with at least Level confidence.
const MinRepeatsForLevel = 6

// Summary is the median of n repeats with its confidence interval.
type Summary struct {
	N      int
	Median float64
	// Lo and Hi bound the interval; equal to Median when N is 1.
	Lo, Hi float64
	// Confidence is the interval's coverage of the true median: at least
	// Level when N ≥ MinRepeatsForLevel, less below, 0 when N is 1.
	Confidence float64
}

// Summarize returns the summary of xs, leaving out values that are NaN or
// infinite; N is 0 when none is left.
func Summarize(xs []float64) Summary {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	n := len(v)
	if n == 0 {
		return Summary{}
	}
	sort.Float64s(v)
	s := Summary{N: n, Median: median(v), Lo: v[0], Hi: v[n-1]}
	if n == 1 {
		return s
	}
	b := distuv.Binomial{N: float64(n), P: 0.5}
	// j is 1-based: [x(j), x(n+1-j)] covers with 1 − 2·P(B ≤ j−1).
	j := 1
	for k := 2; k <= n/2; k++ {
		if 1-2*b.CDF(float64(k-1)) < Level {
			break
		}
		j = k
	}
	s.Lo, s.Hi = v[j-1], v[n-j]
	s.Confidence = 1 - 2*b.CDF(float64(j-1))
	return s
}

// median of sorted, non-empty v.
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Repeated says s has an interval (two repeats or more).
func (s Summary) Repeated() bool { return s.N >= 2 }

// Overlaps says the intervals of s and o share a value. Two single runs
// overlap only when equal.
func (s Summary) Overlaps(o Summary) bool {
	return s.N > 0 && o.N > 0 && s.Lo <= o.Hi && o.Lo <= s.Hi
}

// Interval renders the interval and its coverage for a reader, with each
// bound formatted by num: "[1.2–3.4], 75% CI of 3 runs". It is "" for a
// single run.
func (s Summary) Interval(num func(float64) string) string {
	if !s.Repeated() {
		return ""
	}
	return fmt.Sprintf("[%s–%s], %s CI of %d runs", num(s.Lo), num(s.Hi), Percent(s.Confidence), s.N)
}

// Percent renders a coverage such as 0.9375 as "94%" and 0.75 as "75%".
func Percent(c float64) string {
	return fmt.Sprintf("%.0f%%", math.Floor(c*100+1e-9))
}
