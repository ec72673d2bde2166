package report

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// Delta is one figure of one cell in two runs.
type Delta struct {
	Cell   string // "broker/scenario"
	Figure string
	Unit   string
	A, B   float64
	// Significant says the difference exceeds the runs' own spread: for
	// latency, a two-sample Kolmogorov–Smirnov test on the two full
	// histograms at the 5% level; for throughput, more than twice the
	// standard error of the per-second rates.
	Significant bool
	Basis       string
}

// Change is B relative to A, in percent (NaN when A is 0).
func (d Delta) Change() float64 {
	if d.A == 0 {
		return math.NaN()
	}
	return (d.B - d.A) / d.A * 100
}

// Compare lists the deltas between the cells present in both a and b.
func Compare(a, b []*result.Result) []Delta {
	ia, ib := newest(a), newest(b)
	var out []Delta
	for _, r := range a {
		cell := r.Broker.Name + "/" + r.Scenario
		ra, rb := ia[r.Scenario][r.Broker.Name], ib[r.Scenario][r.Broker.Name]
		if rb == nil || ra != r {
			continue
		}
		for _, name := range []string{"end_to_end", "publish"} {
			la, lb := ra.Latency[name], rb.Latency[name]
			if la == nil || lb == nil || la.Count == 0 || lb.Count == 0 {
				continue
			}
			sig, basis := ksDiffer(la, lb)
			out = append(out,
				Delta{Cell: cell, Figure: name + " p50", Unit: "ms", A: la.P50, B: lb.P50, Significant: sig, Basis: basis},
				Delta{Cell: cell, Figure: name + " p99", Unit: "ms", A: la.P99, B: lb.P99, Significant: sig, Basis: basis})
		}
		sig, basis := rateDiffer(ra, rb)
		out = append(out, Delta{Cell: cell, Figure: "received", Unit: "msg/s", A: ra.Throughput.ReceivedPerS, B: rb.Throughput.ReceivedPerS, Significant: sig, Basis: basis})
		out = append(out, Delta{Cell: cell, Figure: "lost", A: float64(ra.Accounting.Lost), B: float64(rb.Accounting.Lost),
			Significant: ra.Accounting.Lost != rb.Accounting.Lost, Basis: "exact count"})
	}
	return out
}

// ksDiffer runs a two-sample Kolmogorov–Smirnov test on two latency
// histograms.
func ksDiffer(a, b *result.Latency) (bool, string) {
	ha, errA := decodeHist(a.Histogram)
	hb, errB := decodeHist(b.Histogram)
	if errA != nil || errB != nil {
		return false, "no histogram to compare"
	}
	d := ksStatistic(ha, hb)
	n1, n2 := float64(ha.TotalCount()), float64(hb.TotalCount())
	crit := 1.358 * math.Sqrt((n1+n2)/(n1*n2))
	return d > crit, fmt.Sprintf("KS D=%.3f, 5%% critical %.3f", d, crit)
}

func ksStatistic(a, b *hdrhistogram.Histogram) float64 {
	// Walk both distributions at every recorded value of either.
	values := map[int64]struct{}{}
	for _, br := range a.Distribution() {
		if br.Count > 0 {
			values[br.To] = struct{}{}
		}
	}
	for _, br := range b.Distribution() {
		if br.Count > 0 {
			values[br.To] = struct{}{}
		}
	}
	cdf := func(h *hdrhistogram.Histogram) map[int64]float64 {
		out := map[int64]float64{}
		var cum int64
		total := float64(h.TotalCount())
		bars := h.Distribution()
		i := 0
		keys := sortedKeys(values)
		for _, v := range keys {
			for i < len(bars) && bars[i].To <= v {
				cum += bars[i].Count
				i++
			}
			out[v] = float64(cum) / total
		}
		return out
	}
	ca, cb := cdf(a), cdf(b)
	var d float64
	for v := range values {
		d = math.Max(d, math.Abs(ca[v]-cb[v]))
	}
	return d
}

func sortedKeys(m map[int64]struct{}) []int64 { return slices.Sorted(maps.Keys(m)) }

// decodeHist decodes a Latency.Histogram (base64 of HdrHistogram's
// compressed encoding); an empty one is an error.
func decodeHist(s string) (*hdrhistogram.Histogram, error) {
	if s == "" {
		return nil, fmt.Errorf("no histogram")
	}
	return probe.DecodeHistogram(s)
}

// rateDiffer compares mean per-second received rates over each run's
// timeline seconds that received anything.
func rateDiffer(a, b *result.Result) (bool, string) {
	ma, sa, na := rateStats(a.Timeline)
	mb, sb, nb := rateStats(b.Timeline)
	if na < 2 || nb < 2 {
		return false, "too few seconds to judge"
	}
	se := math.Sqrt(sa*sa/float64(na) + sb*sb/float64(nb))
	return math.Abs(ma-mb) > 2*se, fmt.Sprintf("Δ %.0f/s vs 2×SE %.0f/s", math.Abs(ma-mb), 2*se)
}

func rateStats(tl []result.Second) (mean, sd float64, n int) {
	var xs []float64
	for _, s := range tl {
		if s.Received > 0 {
			xs = append(xs, float64(s.Received))
		}
	}
	n = len(xs)
	if n == 0 {
		return 0, 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(n)
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	if n > 1 {
		sd = math.Sqrt(sd / float64(n-1))
	}
	return mean, sd, n
}
