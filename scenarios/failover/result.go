package failover

import (
	"fmt"
	"strings"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// result builds the result from the stick, the traffic's histograms and
// the fault windows, with the verdict when the run completed.
func (r *run) result() *result.Result {
	c := r.c
	sum := r.st.Summary(!r.interrupted && r.drained)
	res := &result.Result{
		Config: c, Latency: sum.Latency, Throughput: sum.Throughput,
		Accounting: sum.Accounting, Timeline: sum.Timeline, Series: map[string][]float64{},
	}
	if n := sum.LostNote(); n != "" {
		res.Notes = append(res.Notes, n)
	}
	n := int((r.end.Sub(r.start) + time.Second - 1) / time.Second)
	res.Timeline = svc.ExtendTimeline(res.Timeline, n)
	a := res.Accounting
	rolling := 0.0
	if c.mode() == ModeRolling {
		rolling = 1
	}
	res.SetMetric(MetricRolling, rolling, "bool")
	control := 0.0
	if c.Unreplicated {
		control = 1
	}
	res.SetMetric(MetricControl, control, "bool")
	res.SetMetric(MetricFaults, float64(len(r.windows)), "count")
	res.SetMetric(MetricLost, float64(a.Lost), "count")
	res.SetMetric(MetricDuplicated, float64(a.Duplicated), "count")
	res.SetMetric(MetricReordered, float64(a.Reordered), "count")
	res.SetMetric(MetricUnconfirmed, float64(a.Unconfirmed), "count")
	res.SetMetric(MetricSendFailures, float64(r.tr.fails), "count")
	r.phaseLatencies(res)
	r.windowFigures(res)
	r.series(res)
	r.notes(res)

	res.Verdict = result.Verdict{Pass: true}
	if !r.interrupted && len(r.windows) > 0 {
		remaining := r.st.Missing()
		res.Verdict.Check(r.drained || a.Lost > 0, "not drained within %s: %d confirmed messages not received yet", c.Drain, remaining)
		if r.env.Profile == driver.Durable || r.env.Profile == "" {
			res.Verdict.Check(a.Lost == 0, "%d confirmed messages lost in the durable profile", a.Lost)
		}
		res.Verdict.Check(a.Confirmed > 0, "no message was confirmed")
		for _, w := range r.windows {
			res.Verdict.Check(w.err == nil, "node did not rejoin: %v", w.err)
		}
		if until := r.untilRestart(); len(until) > 0 && c.mode() == ModeKill {
			res.Verdict.Check(false, "no failover: %s waited for the killed node to start again", strings.Join(until, " and "))
		}
	}
	return res
}

// phaseLatencies records publish and end-to-end latencies before, during
// and after the faults.
func (r *run) phaseLatencies(res *result.Result) {
	names := [phases][2]string{
		{LatencyPublishBefore, LatencyE2EBefore}, {LatencyPublishDuring, LatencyE2EDuring}, {LatencyPublishAfter, LatencyE2EAfter}}
	metrics := [phases][2]string{
		{MetricPublishP99Before, MetricE2EP99Before}, {MetricPublishP99During, MetricE2EP99During}, {MetricPublishP99After, MetricE2EP99After}}
	for ph := range phases {
		for i, hs := range [][]hists{r.tr.pub, r.tr.e2e} {
			if i == 1 && !r.consStopped {
				continue // a consume loop still runs: its histograms are not ours to read
			}
			l := probe.Summarize(merged(hs, ph))
			l.Corrected = true
			if l.Count == 0 {
				continue
			}
			res.Latency[names[ph][i]] = l
			svc.SetPercentile(res, metrics[ph][i], l, "p99")
		}
	}
}

// unavailable returns how long after w's fault first (UnixNano, 0 =
// never) came, and whether it came; never counts until end.
func unavailable(w *window, first int64, end time.Time) (time.Duration, bool) {
	if first == 0 {
		return end.Sub(time.Unix(0, w.at)), false
	}
	return time.Duration(first - w.at), true
}

// windowFigures records the unavailability and recovery figures, the
// longest over the fault windows.
func (r *run) windowFigures(res *result.Result) {
	if len(r.windows) == 0 {
		return
	}
	var prod, cons, down, start, sync time.Duration
	prodOK, consOK, rejoined, synced := true, true, true, true
	for _, w := range r.windows {
		p, ok := unavailable(w, w.prod.Load(), r.loadEnd)
		prod, prodOK = max(prod, p), prodOK && ok
		cn, ok := unavailable(w, w.cons.Load(), r.end)
		cons, consOK = max(cons, cn), consOK && ok
		if !w.restart.IsZero() {
			down = max(down, w.restart.Sub(time.Unix(0, w.at)))
		}
		start = max(start, w.startDuration)
		if w.synced.IsZero() {
			synced = false
		} else {
			sync = max(sync, w.synced.Sub(w.restart))
		}
		rejoined = rejoined && w.err == nil
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	res.SetMetric(MetricProducerUnavailable, prod.Seconds(), "s")
	res.SetMetric(MetricConsumerUnavailable, cons.Seconds(), "s")
	res.SetMetric(MetricProducerRecovered, b(prodOK), "bool")
	res.SetMetric(MetricConsumerRecovered, b(consOK), "bool")
	if r.c.mode() == ModeKill {
		res.SetMetric(MetricUntilRestart, b(len(r.untilRestart()) > 0), "bool")
	}
	res.SetMetric(MetricNodeDownS, down.Seconds(), "s")
	res.SetMetric(MetricStartS, start.Seconds(), "s")
	if synced {
		res.SetMetric(MetricInSyncS, sync.Seconds(), "s")
	}
	res.SetMetric(MetricRejoined, b(rejoined), "bool")
	if back, ok := r.rateBack(res.Timeline); ok {
		res.SetMetric(MetricRateBackS, back.Seconds(), "s")
	}
}

// untilRestart names the sides ("producers", "consumers") that were not
// served again before a faulted node itself started again (or never).
func (r *run) untilRestart() []string {
	var out []string
	for _, side := range []struct {
		name  string
		first func(*window) int64
	}{{"producers", func(w *window) int64 { return w.prod.Load() }}, {"consumers", func(w *window) int64 { return w.cons.Load() }}} {
		for _, w := range r.windows {
			f := side.first(w)
			if f == 0 || (!w.restart.IsZero() && f >= w.restart.UnixNano()) {
				out = append(out, side.name)
				break
			}
		}
	}
	return out
}

// rateBack returns the time from the first fault to the end of the first
// timeline second at the target (within RateTolerance) after the last
// second of the load short of it; 0 when no second was short; ok false
// when the rate was never back before the load ended. The last second of
// the load (partial) is left out.
func (r *run) rateBack(tl []result.Second) (time.Duration, bool) {
	fault := time.Unix(0, r.windows[0].at)
	from := int(fault.Sub(r.start) / time.Second)
	to := int(r.loadEnd.Sub(r.start)/time.Second) - 1 // last whole second of the load
	target := r.c.Rate * (1 - r.c.RateTolerance)
	lastShort := -1
	for s := from; s < min(to, len(tl)); s++ {
		if float64(tl[s].Received) < target {
			lastShort = s
		}
	}
	if lastShort < 0 {
		return 0, true
	}
	if lastShort+1 >= min(to, len(tl)) {
		return 0, false
	}
	backAt := r.start.Add(time.Duration(lastShort+2) * time.Second) // end of the second after the last short one
	return backAt.Sub(fault), true
}

// series records the received rate, the target and the node-down marks.
func (r *run) series(res *result.Result) {
	n := len(res.Timeline)
	recv, target, down := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, s := range res.Timeline {
		recv[i] = float64(s.Received)
		if t := r.start.Add(time.Duration(i) * time.Second); !t.After(r.loadEnd) {
			target[i] = r.c.Rate
		}
	}
	for _, w := range r.windows {
		until := w.restart
		if until.IsZero() {
			until = r.end
		}
		for i := range n {
			t0 := r.start.Add(time.Duration(i) * time.Second)
			if t0.Add(time.Second).After(time.Unix(0, w.at)) && t0.Before(until) {
				down[i] = r.c.Rate
			}
		}
	}
	res.Series[SeriesReceived], res.Series[SeriesTarget], res.Series[SeriesNodeDown] = recv, target, down
}

// notes say what was done to which node, and what did not go as planned.
func (r *run) notes(res *result.Result) {
	var ns []string
	for _, n := range r.nodes {
		ns = append(ns, fmt.Sprintf("%s (%s)", n.Name, n.Role))
	}
	res.Notes = append(res.Notes, "cluster nodes at the start: "+strings.Join(ns, ", "))
	switch {
	case r.refused != nil:
		res.Notes = append(res.Notes, "negative control: the broker cannot keep a destination on one node ("+r.refused.Error()+
			"), so the leader was killed together with every standby that could take over: no copy of the destination survived the kill, and loss, or producers and consumers waiting for the restart, is what this run must show")
	case r.c.Unreplicated:
		res.Notes = append(res.Notes, "negative control: the destination was kept on one node (unreplicated), so loss, or producers and consumers waiting for the restart, is what this run must show")
	}
	verb := "killed (SIGKILL)"
	if r.c.mode() == ModeRolling {
		verb = "stopped (SIGTERM)"
	}
	for _, w := range r.windows {
		s := fmt.Sprintf("%s %s at %.1f s (gone %.2f s later)", strings.Join(w.nodes, ", "), verb, w.asked.Sub(r.start).Seconds(), time.Unix(0, w.at).Sub(w.asked).Seconds())
		if !w.restart.IsZero() {
			s += fmt.Sprintf(", started again at %.1f s", w.restart.Sub(r.start).Seconds())
		}
		if !w.started.IsZero() {
			s += fmt.Sprintf(" (answering at %.1f s)", w.started.Sub(r.start).Seconds())
		}
		if !w.synced.IsZero() {
			s += fmt.Sprintf(", in sync at %.1f s", w.synced.Sub(r.start).Seconds())
		}
		if w.err != nil {
			s += ": " + w.err.Error()
		}
		res.Notes = append(res.Notes, s)
	}
	if len(r.windows) == 0 && !r.interrupted {
		res.Notes = append(res.Notes, "no fault was injected")
	}
	if r.tr.last != nil {
		res.Notes = append(res.Notes, lastSendErrNote+r.tr.last.Error())
	}
	r.consMu.Lock()
	for _, err := range r.consErrs {
		res.Notes = append(res.Notes, "consumer stopped: "+err.Error())
	}
	r.consMu.Unlock()
}

// lastSendErrNote heads the note of the last failed Send's error.
const lastSendErrNote = "last send error: "
