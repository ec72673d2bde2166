package capacity

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/report/result"
)

// RateTolerance is how far under its target a step's received rate may be
// and still count as sustained (a fraction of the target).
const RateTolerance = 0.02

// minShortfall is the shortfall, in messages over a step's window, that
// the received-rate rule always allows.
const minShortfall = 2

// Step kinds.
const (
	KindSearch = "search" // a step of the search for the maximum
	KindCurve  = "curve"  // a point of the latency–throughput curve
	KindFloor  = "floor"  // the maximum's rate through the reference broker
)

// Step is one open-loop step at one target rate: what was measured and
// what the rules made of it.
type Step struct {
	Kind   string  // KindSearch or KindCurve
	Target float64 // intended rate, msg/s, all producers together
	// Start is when the step began, from the run's start (the timeline's
	// origin); Window is its measured window, warm-up excluded.
	Start, Window time.Duration
	// Received is the distinct messages received per second over the
	// measured window (received at its end minus at its start, over its
	// length).
	Received float64
	// BacklogStart and BacklogEnd are the step's messages confirmed and
	// not yet received at the start and end of the measured window.
	BacklogStart, BacklogEnd int64
	// Slack is the backlog growth the step runner says in-hand batches
	// can explain; Allowance is the growth the rules tolerate (set by
	// Rules.Judge).
	Slack, Allowance int64
	// PublishP99, EndToEndP99 and ScheduleP99 are in ms, over messages
	// intended in the measured window; EndToEndCount is how many of them
	// were received.
	PublishP99, EndToEndP99, ScheduleP99 float64
	EndToEndCount                        int64
	// The step's own messages when the step ended (after its drain):
	// Missing were confirmed but not received by then.
	Sent, Confirmed, Unconfirmed, Missing, Duplicated int64
	// CPUSeconds the broker used over the measured window, when CPUKnown.
	CPUSeconds float64
	CPUKnown   bool
	// Interrupted: ctx ended the step early.
	Interrupted bool
	// Sustained and the Reasons it is not, set by Rules.Judge.
	Sustained bool
	Reasons   []string
	// Latency and Throughput are the probe's figures of the step.
	Latency    result.Latencies
	Throughput result.Throughput
}

// Rules decide whether a step is sustained.
type Rules struct {
	// Objective bounds the publish and end-to-end p99.
	Objective time.Duration
	// RateTolerance: see the package constant.
	RateTolerance float64
}

// Judge sets s.Allowance, s.Sustained and s.Reasons. A step is sustained
// when every one of these holds:
//   - it ran to its end (not interrupted);
//   - its received rate is at least (1 − RateTolerance) × the target
//     (over the window, a shortfall of minShortfall messages is always
//     allowed: at a few messages per second one message is more than 2%);
//   - its backlog grew over the window by at most the allowance: the
//     largest of RateTolerance × the window's messages, target ×
//     Objective (what the latency objective lets be in flight) and Slack;
//   - something was received, and the publish and end-to-end p99 are at
//     most Objective;
//   - every message was confirmed, and every confirmed one received by the
//     end of the step's drain.
func (r Rules) Judge(s *Step) {
	s.Reasons = nil
	fail := func(format string, args ...any) { s.Reasons = append(s.Reasons, fmt.Sprintf(format, args...)) }
	if s.Interrupted {
		fail("interrupted")
	}
	w := s.Window.Seconds()
	if short := (s.Target - s.Received) * w; short > max(r.RateTolerance*s.Target*w, minShortfall) {
		fail("received %.0f msg/s, under %.0f (target − %g%%)", s.Received, (1-r.RateTolerance)*s.Target, 100*r.RateTolerance)
	}
	s.Allowance = max(int64(r.RateTolerance*s.Target*w), int64(s.Target*r.Objective.Seconds()), s.Slack)
	if growth := s.BacklogEnd - s.BacklogStart; growth > s.Allowance {
		fail("backlog grew by %d messages over the window (allowed %d)", growth, s.Allowance)
	}
	obj := float64(r.Objective) / 1e6
	if s.EndToEndCount == 0 {
		fail("nothing received from the measured window")
	}
	if s.PublishP99 > obj {
		fail("publish p99 %.3g ms over the %.3g ms objective", s.PublishP99, obj)
	}
	if s.EndToEndP99 > obj {
		fail("end-to-end p99 %.3g ms over the %.3g ms objective", s.EndToEndP99, obj)
	}
	if s.Unconfirmed > 0 {
		fail("%d messages not confirmed", s.Unconfirmed)
	}
	if s.Missing > 0 {
		fail("%d confirmed messages not received by the end of the step's drain", s.Missing)
	}
	s.Sustained = len(s.Reasons) == 0
}

// Why a search ended.
const (
	EndConverged     = "converged"      // highest sustained and lowest failed within Precision
	EndMaxRate       = "max_rate"       // MaxRate was sustained
	EndMaxSteps      = "max_steps"      // MaxSteps ran
	EndBudget        = "budget"         // Plan.More said no
	EndCanceled      = "canceled"       // ctx ended
	EndNoneSustained = "none_sustained" // not even MinRate was sustained
	EndError         = "error"          // the step runner failed
)

// StepFunc runs one step at target msg/s. It returns the step measured
// (Target set) without judging it; an error means it could not run, and
// stops the search.
type StepFunc func(ctx context.Context, target float64) (Step, error)

// Plan is a search for the maximum sustainable rate.
type Plan struct {
	// Start is the first step's rate; it is clamped into [MinRate,
	// MaxRate].
	Start float64
	// Growth multiplies the rate after a sustained step until one fails;
	// when the first step fails the rate is divided by it until one is
	// sustained. Precision ends the bisection that follows.
	Growth, Precision float64
	// MinRate and MaxRate bound every step's rate.
	MinRate, MaxRate float64
	// MaxSteps bounds the number of steps.
	MaxSteps int
	// Rules judge each step.
	Rules Rules
	// More, when non-nil, is asked before every step; false ends the
	// search (a time budget).
	More func() bool
}

// Outcome is what a search found.
type Outcome struct {
	// Steps in the order they ran, judged.
	Steps []Step
	// Best indexes the highest sustained step; -1 when none was.
	Best int
	// Failed is the lowest failed rate above the best one (0 when none
	// failed): the maximum lies in [Steps[Best].Target, Failed).
	Failed float64
	// End says why the search ended (an End* constant).
	End string
}

// Max returns the maximum sustainable rate found (0 when none).
func (o Outcome) Max() float64 {
	if o.Best < 0 {
		return 0
	}
	return o.Steps[o.Best].Target
}

// Search runs steps through run per p: up by Growth from Start while steps
// are sustained (down by Growth while none is), then bisection between
// the highest sustained and the lowest failed rate until they are within
// Precision of each other. It returns the steps so far with the runner's
// error, if any.
func Search(ctx context.Context, p Plan, run StepFunc) (Outcome, error) {
	o := Outcome{Best: -1}
	var lo, hi float64 // highest sustained, lowest failed; 0 = none yet
	rate := min(max(p.Start, p.MinRate), p.MaxRate)
	for {
		switch {
		case ctx.Err() != nil:
			o.End = EndCanceled
			return o, nil
		case len(o.Steps) >= p.MaxSteps:
			o.End = EndMaxSteps
			return o, nil
		case p.More != nil && !p.More():
			o.End = EndBudget
			return o, nil
		}
		s, err := run(ctx, rate)
		s.Target = rate
		p.Rules.Judge(&s)
		o.Steps = append(o.Steps, s)
		if err != nil {
			o.End = EndError
			return o, err
		}
		if s.Interrupted {
			o.End = EndCanceled
			return o, nil
		}
		if s.Sustained {
			lo, o.Best = rate, len(o.Steps)-1
		} else {
			hi, o.Failed = rate, rate
		}
		next, end := p.next(lo, hi)
		if end != "" {
			o.End = end
			return o, nil
		}
		rate = next
	}
}

// next returns the rate of the next step given the highest sustained (lo)
// and lowest failed (hi) rates so far, or why the search ends.
func (p Plan) next(lo, hi float64) (float64, string) {
	switch {
	case hi == 0: // nothing failed yet: climb
		if lo >= p.MaxRate {
			return 0, EndMaxRate
		}
		return min(lo*p.Growth, p.MaxRate), ""
	case lo == 0: // nothing sustained yet: descend, MinRate last
		if hi <= p.MinRate {
			return 0, EndNoneSustained
		}
		return max(hi/p.Growth, p.MinRate), ""
	case hi-lo <= p.Precision*lo:
		return 0, EndConverged
	}
	return (lo + hi) / 2, ""
}
