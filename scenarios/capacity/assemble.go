package capacity

import (
	"fmt"
	"math"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/probe"
)

// assemble fills rn.res from what was measured. Call it once every
// producer and consumer of r stopped.
func (rn *runner) assemble(r *rig, m *measured) {
	c, res := rn.c, rn.res
	steps := append(append([]Step(nil), m.search.Steps...), m.curve...)
	res.Accounting, res.Timeline = totals(r, m.complete)
	res.SetMetric(LatencyObjectiveMs, ms(c.Objective), "ms")
	res.SetMetric(Steps, float64(len(steps)), "count")
	res.SetMetric(SearchSteps, float64(len(m.search.Steps)), "count")
	top := m.search.Max()
	res.SetMetric(MaxSustainableMsgs, top, "msg/s")
	res.SetMetric(MaxSustainableMBs, rn.mbs(top), "MB/s")
	if m.search.Failed > top {
		res.SetMetric(FailedAboveMsgs, m.search.Failed, "msg/s")
	}
	rn.noteEnd(m.search)
	if m.search.Best >= 0 {
		b := m.search.Steps[m.search.Best]
		res.Latency, res.Throughput = b.Latency, b.Throughput
		res.SetMetric(ScheduleDelayP99, b.ScheduleP99, "ms")
		if n := b.Received * b.Window.Seconds(); b.CPUKnown && n > 0 {
			res.SetMetric(CPUPerMillion, b.CPUSeconds/(n/1e6), "s")
		} else {
			rn.notef("broker CPU per million messages not measured: the broker's CPU cannot be read (not started by mqbench, or not on this host)")
		}
		rn.curveMetrics(b, 100)
		for _, s := range m.curve {
			rn.curveMetrics(s, int(math.Round(100*s.Target/top)))
		}
	}

	po := m.publishOnly
	if po.st != nil {
		res.SetMetric(PublishOnlyMsgs, po.rate, "msg/s")
		res.SetMetric(PublishOnlyMBs, rn.mbs(po.rate), "MB/s")
		res.SetMetric(PublishOnlyP99, latencyP(po.st.Summary(m.complete).Latency, probe.Publish, func(l *result.Latency) float64 { return l.P99 }), "ms")
		res.SetMetric(DrainOnlyMsgs, m.drainOnly, "msg/s")
		res.SetMetric(DrainOnlyMBs, rn.mbs(m.drainOnly), "MB/s")
	}
	rn.harnessLimits(m.ceiling, top, po.rate, m.drainOnly)
	if f := m.floor; f != nil {
		res.SetMetric(HarnessFloorPublishP99, f.PublishP99, "ms")
		res.SetMetric(HarnessFloorE2EP99, f.EndToEndP99, "ms")
		res.SetMetric(HarnessFloorScheduleP99, f.ScheduleP99, "ms")
		obj := ms(c.Objective)
		res.SetMetric(HarnessLimitedLatency, b2f(f.PublishP99 >= obj/2 || f.EndToEndP99 >= obj/2), "bool")
	}
	res.Series = series(steps)
	rn.verdict(m, top)
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// mbs converts msg/s into MB/s (10^6 bytes) at the configured size.
func (rn *runner) mbs(msgs float64) float64 { return msgs * float64(rn.c.Size) / 1e6 }

// curveMetrics records step s as the curve point at pct percent.
func (rn *runner) curveMetrics(s Step, pct int) {
	res := rn.res
	res.SetMetric(CurveMetric(CurveRate, pct), s.Target, "msg/s")
	res.SetMetric(CurveMetric(CurvePublishP99, pct), s.PublishP99, "ms")
	res.SetMetric(CurveMetric(CurveE2EP50, pct), latencyP(s.Latency, probe.EndToEnd, func(l *result.Latency) float64 { return l.P50 }), "ms")
	res.SetMetric(CurveMetric(CurveE2EP99, pct), s.EndToEndP99, "ms")
	res.SetMetric(CurveMetric(CurveSustained, pct), b2f(s.Sustained), "bool")
}

// noteEnd says why the search ended and what that means for the maximum.
func (rn *runner) noteEnd(o Outcome) {
	top := o.Max()
	switch o.End {
	case EndConverged:
		rn.notef("maximum sustainable rate %.0f msg/s: %.0f msg/s was not sustained (within %g%%)", top, o.Failed, 100*rn.c.Precision)
	case EndMaxRate:
		rn.notef("the broker sustained max_rate (%.0f msg/s): its maximum is at least that", top)
	case EndNoneSustained:
		rn.notef("no step was sustained, down to %d msg/s", MinRate)
	case EndCanceled:
		rn.notef("interrupted during the search: the maximum is at least %.0f msg/s", top)
	case EndError:
		rn.notef("the search stopped on an error: the maximum is at least %.0f msg/s", top)
	default: // budget, max steps
		upper := "unknown"
		if o.Failed > 0 {
			upper = formatRate(o.Failed)
		}
		rn.notef("search ended by its bound (%s) before converging: the maximum is at least %.0f msg/s and below %s", o.End, top, upper)
	}
}

func formatRate(r float64) string { return fmt.Sprintf("%.0f msg/s", r) }

// harnessLimits records the ceiling and marks each broker figure at
// HarnessLimitFraction of it or more.
func (rn *runner) harnessLimits(ceiling, top, publish, drain float64) {
	if ceiling <= 0 {
		return
	}
	res := rn.res
	res.SetMetric(HarnessCeilingMsgs, ceiling, "msg/s")
	res.SetMetric(HarnessCeilingMBs, rn.mbs(ceiling), "MB/s")
	for _, f := range []struct {
		name, what string
		v          float64
	}{
		{HarnessLimitedMax, "maximum sustainable rate", top},
		{HarnessLimitedPublish, "publish-only rate", publish},
		{HarnessLimitedDrain, "drain-only rate", drain},
	} {
		limited := f.v >= HarnessLimitFraction*ceiling
		res.SetMetric(f.name, b2f(limited), "bool")
		if limited {
			rn.notef("harness-limited: the %s (%.0f msg/s) is %.0f%% of mqbench's own ceiling (%.0f msg/s); the broker may do more", f.what, f.v, 100*f.v/ceiling, ceiling)
		}
	}
}

// series returns the step_* series, one value per step.
func series(steps []Step) map[string][]float64 {
	out := map[string][]float64{}
	add := func(k string, v float64) { out[k] = append(out[k], v) }
	cpu := len(steps) > 0
	for _, s := range steps {
		add(SeriesStepStart, math.Round(s.Start.Seconds()*1000)/1000)
		add(SeriesStepRate, s.Target)
		add(SeriesStepReceived, s.Received)
		add(SeriesStepP99, s.PublishP99)
		add(SeriesStepE2EP99, s.EndToEndP99)
		add(SeriesStepSchedule, s.ScheduleP99)
		add(SeriesStepBacklog, float64(s.BacklogEnd-s.BacklogStart))
		add(SeriesStepMissing, float64(s.Missing))
		add(SeriesStepSustained, b2f(s.Sustained))
		add(SeriesStepCurve, b2f(s.Kind == KindCurve))
		n := s.Received * s.Window.Seconds()
		cpu = cpu && s.CPUKnown && n > 0
		if cpu {
			add(SeriesStepCPU, s.CPUSeconds/(n/1e6))
		}
	}
	if !cpu {
		delete(out, SeriesStepCPU)
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// verdict checks the run's invariants: when it was not interrupted, no
// confirmed message was lost, something was confirmed and a maximum was
// found.
func (rn *runner) verdict(m *measured, top float64) {
	v := &rn.res.Verdict
	*v = result.Verdict{Pass: true}
	if m.interrupted {
		return
	}
	a := rn.res.Accounting
	v.Check(a.Lost == 0, "%d confirmed messages lost", a.Lost)
	v.Check(a.Confirmed > 0, "no message was confirmed")
	v.Check(top > 0, "no step was sustained (objective p99 ≤ %s, down to %d msg/s)", rn.c.Objective, MinRate)
}
