package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/mqbench/mqbench/report/result"
)

// printSummary prints a one-screen summary of a result.
func printSummary(w io.Writer, r *result.Result) {
	verdict := "PASS"
	switch {
	case r.Status == result.StatusInterrupted:
		verdict = "INCOMPLETE" // accounting not final: no verdict
	case !r.Verdict.Pass:
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s / %s  profile=%s  status=%s  verdict=%s\n", r.Broker.Name, r.Scenario, r.Profile, r.Status, verdict)
	if r.Broker.Version != "" || r.Broker.ClientVersion != "" {
		fmt.Fprintf(w, "broker %s  client %s %s\n", orDash(r.Broker.Version), r.Broker.Client, r.Broker.ClientVersion)
	}
	a := r.Accounting
	fmt.Fprintf(w, "messages: sent %d  confirmed %d  unconfirmed %d  received %d  lost %d  duplicated %d  reordered %d  (groups %d)\n",
		a.Sent, a.Confirmed, a.Unconfirmed, a.Received, a.Lost, a.Duplicated, a.Reordered, a.Groups)
	if a.Unsent > 0 {
		fmt.Fprintf(w, "unsent: %d messages the open-loop schedule owed when the producers, still behind, stopped 1 s after the load window\n", a.Unsent)
	}
	fmt.Fprintf(w, "throughput: sent %.0f msg/s  received %.0f msg/s  %.2f MB/s\n",
		r.Throughput.SentPerS, r.Throughput.ReceivedPerS, r.Throughput.MBPerS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency (ms)\tcount\tp50\tp90\tp99\tp99.9\tmax\t")
	names := make([]string, 0, len(r.Latency))
	for n := range r.Latency {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l := r.Latency[n]
		if l == nil || l.Count == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", n, l.Count, l.P50, l.P90, l.P99, l.P999, l.Max)
	}
	tw.Flush()
	if len(r.Metrics) > 0 {
		keys := make([]string, 0, len(r.Metrics))
		for k := range r.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(w, "metrics:")
		for i, k := range keys {
			if i > 0 {
				fmt.Fprint(w, ",")
			}
			m := r.Metrics[k]
			fmt.Fprintf(w, " %s=%s%s", k, formatValue(m.Value), unitSuffix(m.Unit))
		}
		fmt.Fprintln(w)
	}
	if r.Cost != nil {
		fmt.Fprintf(w, "broker cost: %.1f CPU s, peak RSS %.0f MiB", r.Cost.CPUSeconds, r.Cost.PeakRSSMiB)
		if net, noise, ok := r.Cost.Net(); ok {
			fmt.Fprintf(w, "; net of the idle baseline %.2f CPU s (idle noise ±%.2f)", net, noise)
		}
		fmt.Fprintln(w)
	}
	for _, v := range r.Verdict.Violations {
		fmt.Fprintln(w, "violation:", v)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func unitSuffix(u string) string {
	switch u {
	case "", "count", "bool":
		return ""
	case "%", "/s":
		return u
	}
	return " " + u
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatValue prints whole numbers in full and others with 4 significant
// digits.
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
