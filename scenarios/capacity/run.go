package capacity

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
)

// runner is one run of the scenario.
type runner struct {
	c       *Config
	env     scenarios.Env
	start   time.Time
	seconds int
	res     *result.Result
}

// measured is everything the broker's phases produced.
type measured struct {
	ceiling     float64 // harness ceiling, msg/s; 0 = not measured
	floor       *Step   // the maximum's rate through the reference broker; nil = not measured
	publishOnly closedLoop
	drainOnly   float64
	drained     bool // drain-only emptied the backlog
	search      Outcome
	curve       []Step
	complete    bool // not interrupted, final drain complete
	interrupted bool // ctx ended the run
}

func run(ctx context.Context, env scenarios.Env, c *Config) (*result.Result, error) {
	rn := &runner{c: c, env: env, start: time.Now(), res: &result.Result{Config: c}}
	// Every phase fits: the budget, the one step that may start just
	// before it ends, and the phases before the search.
	bound := c.Budget + 4*(c.Warmup+c.Duration+c.Drain) + c.DrainOnlyTimeout
	rn.seconds = int(bound/time.Second) + 60
	rn.notef("load shape: %d producers, %d consumers (one group), %d partitions/queues, %d-byte messages, batch %d, %s profile; objective p99 ≤ %s for publish and end to end",
		c.Producers, c.Consumers, max(c.Partitions, 1), c.Size, c.Batch, env.Profile, c.Objective)

	var m measured
	env.Report("ceiling", 0)
	m.ceiling = rn.measureCeiling(ctx)

	r, err := openRig(ctx, env.Driver, env.Prefix+"-capacity", c, env.RunID, rn.start, rn.seconds, env.Log)
	if err != nil {
		return rn.res, fmt.Errorf("capacity: %w", err)
	}
	defer r.close(ctx)
	r.cpu = env.BrokerCPU

	env.Report("prime", rn.done())
	if !r.prime(ctx) && ctx.Err() == nil {
		rn.notef("prime: the first %d messages were not all received within %s", primePerProducer*c.Producers, c.Drain)
	}
	env.Report("publish-only", rn.done())
	m.publishOnly = r.publishOnly(ctx)
	if m.publishOnly.whole {
		rn.notef("publish-only reached its cap of %d messages during the warm-up: its rate is over the whole phase", c.PublishOnlyMax)
	}
	if e := m.publishOnly.sends.last; e != nil {
		rn.notef("publish-only: %d sends failed, last: %v", m.publishOnly.sends.failed, e)
	}
	env.Report("drain-only", rn.done())
	m.drainOnly, m.drained = r.drainOnly(ctx, m.publishOnly.st)
	if !m.drained && ctx.Err() == nil {
		rn.notef("drain-only did not empty the backlog within %s: the first steps start on what is left", c.DrainOnlyTimeout)
	}

	m.search, err = Search(ctx, rn.plan(m.publishOnly.rate), rn.stepFunc(r, KindSearch))
	if err == nil {
		m.curve = rn.curve(ctx, r, m.search)
	}

	env.Report("drain", rn.done())
	stop := r.consume(ctx, r.sticks[len(r.sticks)-1])
	drained := r.drain(ctx, time.Now().Add(c.Drain), c.Drain)
	stop()
	m.interrupted = ctx.Err() != nil
	m.complete = !m.interrupted && drained
	if top := m.search.Max(); top > 0 && !m.interrupted {
		env.Report("harness floor", rn.done())
		m.floor = rn.measureFloor(ctx, top)
	}
	rn.assemble(r, &m)
	return rn.res, err
}

// notef adds a note to the result.
func (rn *runner) notef(format string, args ...any) {
	rn.res.Notes = append(rn.res.Notes, fmt.Sprintf(format, args...))
}

// done is the run's progress: the share of the budget used.
func (rn *runner) done() float64 {
	return min(1, float64(time.Since(rn.start))/float64(rn.c.Budget))
}

// more says whether a step started now ends its window within the budget.
func (rn *runner) more() bool {
	return time.Since(rn.start)+rn.c.Warmup+rn.c.Duration <= rn.c.Budget
}

// plan is the search of rn's config; publishOnly seeds it when Rate is 0.
func (rn *runner) plan(publishOnly float64) Plan {
	c := rn.c
	start := c.Rate
	if start <= 0 {
		start = 1000
		if publishOnly > 0 {
			start = nice(publishOnly / 4)
		}
		rn.notef("first step at %.0f msg/s (a quarter of the publish-only rate, or 1000 without one)", start)
	}
	return Plan{Start: start, Growth: c.Growth, Precision: c.Precision, MinRate: MinRate, MaxRate: c.MaxRate,
		MaxSteps: c.MaxSteps, Rules: c.Rules(), More: rn.more}
}

// nice rounds x down to two significant digits.
func nice(x float64) float64 {
	if x <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(x))-1)
	return math.Floor(x/p) * p
}

// stepFunc runs steps of kind on r, noting what they report.
func (rn *runner) stepFunc(r *rig, kind string) StepFunc {
	n := 0
	return func(ctx context.Context, target float64) (Step, error) {
		n++
		rn.env.Report(fmt.Sprintf("%s step %d at %.0f msg/s", kind, n, target), rn.done())
		s, notes := r.step(ctx, target, kind)
		for _, note := range notes {
			rn.notef("%s step %d (%.0f msg/s): %s", kind, n, target, note)
		}
		return s, nil
	}
}

// curve runs the curve steps (CurveFractions of the maximum), judged, while
// the budget allows.
func (rn *runner) curve(ctx context.Context, r *rig, o Outcome) []Step {
	if o.Best < 0 {
		return nil
	}
	run := rn.stepFunc(r, KindCurve)
	rules := rn.c.Rules()
	var out []Step
	for _, f := range CurveFractions() {
		target := f * o.Max()
		if ctx.Err() != nil {
			rn.notef("curve point at %.0f%% of the maximum skipped: interrupted", 100*f)
			continue
		}
		if !rn.more() {
			rn.notef("curve point at %.0f%% of the maximum skipped: time budget spent", 100*f)
			continue
		}
		s, _ := run(ctx, target)
		rules.Judge(&s)
		out = append(out, s)
	}
	return out
}

// totals sums the accounting of every stick of r and merges their
// timelines. Call it once every producer and consumer stopped.
func totals(r *rig, complete bool) (result.Accounting, []result.Second) {
	var a result.Accounting
	var tl []result.Second
	for _, st := range r.sticks {
		sum := st.Summary(complete)
		s := sum.Accounting
		a.Sent += s.Sent
		a.Confirmed += s.Confirmed
		a.Unconfirmed += s.Unconfirmed
		a.Rejected += s.Rejected
		a.Received += s.Received
		a.Deliveries += s.Deliveries
		a.Lost += s.Lost
		a.Duplicated += s.Duplicated
		a.Reordered += s.Reordered
		a.Foreign += s.Foreign
		for _, sec := range sum.Timeline {
			for len(tl) <= sec.T {
				tl = append(tl, result.Second{T: len(tl)})
			}
			t := &tl[sec.T]
			t.Sent += sec.Sent
			t.Confirmed += sec.Confirmed
			t.Received += sec.Received
			t.Errors += sec.Errors
		}
	}
	a.Groups, a.Complete = 1, complete
	var conf, recv int64
	for i := range tl {
		conf += tl[i].Confirmed
		recv += tl[i].Received
		tl[i].Backlog = max(0, conf-recv)
	}
	return a, tl
}

// latencyP returns the named latency's value picked by f, 0 when absent.
func latencyP(ls result.Latencies, name string, f func(*result.Latency) float64) float64 {
	if l := ls[name]; l != nil && l.Count > 0 {
		return f(l)
	}
	return 0
}
