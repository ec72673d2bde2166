package svc

import (
	"time"

	"github.com/mqbench/mqbench/report/result"
)

// ExtendTimeline pads tl with empty seconds up to n entries, carrying the
// last backlog forward, so per-second series of a scenario whose early
// phases send no message line up with it.
func ExtendTimeline(tl []result.Second, n int) []result.Second {
	var backlog int64
	if len(tl) > 0 {
		backlog = tl[len(tl)-1].Backlog
	}
	for i := len(tl); i < n; i++ {
		tl = append(tl, result.Second{T: i, Backlog: backlog})
	}
	return tl
}

// SetPercentile records metric name as percentile p ("p50", "p90", "p99",
// "p999" or "max") of l in ms, and only when l holds values: a mode that
// never ran gets no figure rather than a made-up zero.
func SetPercentile(res *result.Result, name string, l *result.Latency, p string) {
	if l == nil || l.Count == 0 {
		return
	}
	var v float64
	switch p {
	case "p50":
		v = l.P50
	case "p90":
		v = l.P90
	case "p99":
		v = l.P99
	case "p999":
		v = l.P999
	case "max":
		v = l.Max
	default:
		return
	}
	res.SetMetric(name, v, "ms")
}

// SetRate records metric name as count per second over the measured window
// [from, min(to, now)), and only when that window is not empty (an
// interrupted mode is rated over the part that ran).
func SetRate(res *result.Result, name string, count int64, from, to time.Time) {
	end := to
	if now := time.Now(); now.Before(end) {
		end = now
	}
	if secs := end.Sub(from).Seconds(); secs > 0 {
		res.SetMetric(name, float64(count)/secs, "1/s")
	}
}

// Interrupted is the result of a run interrupted before its clock started
// (during the readiness handshake): the configuration and a passing
// verdict, nothing measured.
func Interrupted(cfg any) *result.Result {
	res := &result.Result{Config: cfg}
	res.Verdict = result.Verdict{Pass: true}
	return res
}
