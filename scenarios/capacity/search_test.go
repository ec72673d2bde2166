package capacity_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/mqbench/mqbench/scenarios/capacity"
)

// sustainedStep is a step that meets every rule at target (objective 50 ms,
// 2 s window).
func sustainedStep(target float64) capacity.Step {
	return capacity.Step{
		Target: target, Window: 2 * time.Second, Received: target,
		BacklogStart: 10, BacklogEnd: 10, Slack: 100,
		PublishP99: 5, EndToEndP99: 8, EndToEndCount: int64(2 * target),
		Sent: int64(3 * target), Confirmed: int64(3 * target),
	}
}

func TestJudge(t *testing.T) {
	rules := capacity.Rules{Objective: 50 * time.Millisecond, RateTolerance: 0.02}
	tests := []struct {
		name      string
		edit      func(s *capacity.Step)
		sustained bool
		allowance int64 // 0 = not checked
	}{
		{"all rules hold", func(s *capacity.Step) {}, true, 0},
		{"received exactly target − 2%", func(s *capacity.Step) { s.Received = 980 }, true, 0},
		{"received under target − 2%", func(s *capacity.Step) { s.Received = 979 }, false, 0},
		{"received above target", func(s *capacity.Step) { s.Received = 1100 }, true, 0},
		// At 10 msg/s over 2 s, 2 messages short (10%) is still allowed, 3 are not.
		{"low rate, two messages short", func(s *capacity.Step) { s.Target, s.Received = 10, 9 }, true, 0},
		{"low rate, three messages short", func(s *capacity.Step) { s.Target, s.Received = 10, 8.5 }, false, 0},
		// 1000 msg/s × 2 s × 2% = 40; × 50 ms = 50; slack 100: allowance 100.
		{"backlog grew by the allowance", func(s *capacity.Step) { s.BacklogEnd = s.BacklogStart + 100 }, true, 100},
		{"backlog grew past the allowance", func(s *capacity.Step) { s.BacklogEnd = s.BacklogStart + 101 }, false, 100},
		{"backlog shrank", func(s *capacity.Step) { s.BacklogEnd = 0 }, true, 0},
		{"allowance from the objective", func(s *capacity.Step) { s.Slack = 0; s.BacklogEnd = s.BacklogStart + 50 }, true, 50},
		{"allowance from the rate tolerance", func(s *capacity.Step) {
			s.Slack, s.Window = 0, 10*time.Second
			s.BacklogEnd = s.BacklogStart + 201
		}, false, 200},
		{"publish p99 at the objective", func(s *capacity.Step) { s.PublishP99 = 50 }, true, 0},
		{"publish p99 over the objective", func(s *capacity.Step) { s.PublishP99 = 50.001 }, false, 0},
		{"end-to-end p99 over the objective", func(s *capacity.Step) { s.EndToEndP99 = 51 }, false, 0},
		{"nothing received", func(s *capacity.Step) { s.EndToEndCount, s.EndToEndP99 = 0, 0 }, false, 0},
		{"one message missing", func(s *capacity.Step) { s.Missing = 1 }, false, 0},
		{"one message unconfirmed", func(s *capacity.Step) { s.Unconfirmed = 1 }, false, 0},
		{"interrupted", func(s *capacity.Step) { s.Interrupted = true }, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sustainedStep(1000)
			tt.edit(&s)
			rules.Judge(&s)
			if s.Sustained != tt.sustained {
				t.Fatalf("sustained = %v, want %v (reasons %q)", s.Sustained, tt.sustained, s.Reasons)
			}
			if s.Sustained != (len(s.Reasons) == 0) {
				t.Fatalf("sustained %v with reasons %q", s.Sustained, s.Reasons)
			}
			if tt.allowance != 0 && s.Allowance != tt.allowance {
				t.Fatalf("allowance = %d, want %d", s.Allowance, tt.allowance)
			}
		})
	}
}

// fakeBroker sustains any rate up to its capacity and fails above it.
type fakeBroker struct {
	capacity float64
	rates    []float64
	// at, when set, is called with the step number (from 1) and may
	// return an error or mark the step interrupted.
	at func(n int, s *capacity.Step) error
}

func (f *fakeBroker) run(ctx context.Context, target float64) (capacity.Step, error) {
	f.rates = append(f.rates, target)
	s := sustainedStep(target)
	if target > f.capacity {
		s.Received = f.capacity
		s.BacklogEnd = s.BacklogStart + int64((target-f.capacity)*2)
		s.PublishP99, s.EndToEndP99 = 400, 900
	}
	if f.at != nil {
		if err := f.at(len(f.rates), &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

func TestSearch(t *testing.T) {
	errBroken := errors.New("broker gone")
	base := capacity.Plan{Start: 1000, Growth: 1.5, Precision: 0.05, MinRate: 10, MaxRate: 1e6, MaxSteps: 30,
		Rules: capacity.Rules{Objective: 50 * time.Millisecond, RateTolerance: 0.02}}
	tests := []struct {
		name     string
		edit     func(p *capacity.Plan)
		capacity float64
		at       func(n int, s *capacity.Step) error
		rates    []float64
		max      float64
		failed   float64
		end      string
		err      error
	}{
		{name: "climb by 1.5 then bisect to 5%", capacity: 4000,
			rates: []float64{1000, 1500, 2250, 3375, 5062.5, 4218.75, 3796.875, 4007.8125, 3902.34375},
			max:   3902.34375, failed: 4007.8125, end: capacity.EndConverged},
		{name: "first step fails: descend then bisect", capacity: 501,
			rates: []float64{1000, 1000 / 1.5, 1000 / 1.5 / 1.5, 5000.0 / 9, 500, 4750.0 / 9, 9250.0 / 18},
			max:   500, failed: 9250.0 / 18, end: capacity.EndConverged},
		{name: "sustains max_rate", capacity: 1e9, edit: func(p *capacity.Plan) { p.MaxRate = 3000 },
			rates: []float64{1000, 1500, 2250, 3000}, max: 3000, end: capacity.EndMaxRate},
		{name: "max_steps bounds the climb", capacity: 1e9, edit: func(p *capacity.Plan) { p.MaxSteps = 3 },
			rates: []float64{1000, 1500, 2250}, max: 2250, end: capacity.EndMaxSteps},
		{name: "max_steps bounds the bisection", capacity: 4000, edit: func(p *capacity.Plan) { p.MaxSteps = 6 },
			rates: []float64{1000, 1500, 2250, 3375, 5062.5, 4218.75}, max: 3375, failed: 4218.75, end: capacity.EndMaxSteps},
		{name: "start clamped to max_rate", capacity: 1e9, edit: func(p *capacity.Plan) { p.Start, p.MaxRate = 5000, 2000 },
			rates: []float64{2000}, max: 2000, end: capacity.EndMaxRate},
		{name: "start clamped to min_rate, none sustained", capacity: 5, edit: func(p *capacity.Plan) { p.Start = 1 },
			rates: []float64{10}, end: capacity.EndNoneSustained, failed: 10},
		{name: "descent tries min_rate last", capacity: 5, edit: func(p *capacity.Plan) { p.Start = 12 },
			rates: []float64{12, 10}, end: capacity.EndNoneSustained, failed: 10},
		{name: "precision 0.5 converges sooner", capacity: 4000, edit: func(p *capacity.Plan) { p.Precision = 0.5 },
			rates: []float64{1000, 1500, 2250, 3375, 5062.5}, max: 3375, failed: 5062.5, end: capacity.EndConverged},
		{name: "growth 2", capacity: 4000, edit: func(p *capacity.Plan) { p.Growth = 2 },
			rates: []float64{1000, 2000, 4000, 8000, 6000, 5000, 4500, 4250, 4125},
			max:   4000, failed: 4125, end: capacity.EndConverged},
		{name: "runner error stops the search", capacity: 4000,
			at: func(n int, s *capacity.Step) error {
				if n == 2 {
					return errBroken
				}
				return nil
			},
			rates: []float64{1000, 1500}, max: 1000, end: capacity.EndError, err: errBroken},
		{name: "interrupted step ends the search", capacity: 4000,
			at: func(n int, s *capacity.Step) error {
				if n == 3 {
					s.Interrupted = true
				}
				return nil
			},
			rates: []float64{1000, 1500, 2250}, max: 1500, end: capacity.EndCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			if tt.edit != nil {
				tt.edit(&p)
			}
			f := &fakeBroker{capacity: tt.capacity, at: tt.at}
			o, err := capacity.Search(context.Background(), p, f.run)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !sameRates(f.rates, tt.rates) {
				t.Fatalf("rates %v, want %v", f.rates, tt.rates)
			}
			if len(o.Steps) != len(f.rates) {
				t.Fatalf("%d steps in the outcome, %d run", len(o.Steps), len(f.rates))
			}
			for i, s := range o.Steps {
				if s.Target != f.rates[i] || s.Sustained != (s.Target <= tt.capacity && !s.Interrupted) {
					t.Fatalf("step %d: target %v sustained %v (reasons %q)", i, s.Target, s.Sustained, s.Reasons)
				}
			}
			if !sameRates([]float64{o.Max(), o.Failed}, []float64{tt.max, tt.failed}) || o.End != tt.end {
				t.Fatalf("max %v failed %v end %q, want %v %v %q", o.Max(), o.Failed, o.End, tt.max, tt.failed, tt.end)
			}
			if (o.Best < 0) != (tt.max == 0) {
				t.Fatalf("best %d with max %v", o.Best, tt.max)
			}
		})
	}
}

func TestSearchBounds(t *testing.T) {
	p := capacity.Plan{Start: 1000, Growth: 1.5, Precision: 0.05, MinRate: 10, MaxRate: 1e6, MaxSteps: 30,
		Rules: capacity.Rules{Objective: 50 * time.Millisecond, RateTolerance: 0.02}}
	t.Run("budget", func(t *testing.T) {
		calls := 0
		p := p
		p.More = func() bool { calls++; return calls <= 2 }
		f := &fakeBroker{capacity: 1e9}
		o, err := capacity.Search(context.Background(), p, f.run)
		if err != nil || len(o.Steps) != 2 || o.End != capacity.EndBudget || o.Max() != 1500 {
			t.Fatalf("steps %d end %q max %v err %v", len(o.Steps), o.End, o.Max(), err)
		}
	})
	t.Run("canceled before a step", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		f := &fakeBroker{capacity: 1e9, at: func(n int, s *capacity.Step) error {
			if n == 2 {
				cancel()
			}
			return nil
		}}
		o, err := capacity.Search(ctx, p, f.run)
		if err != nil || len(o.Steps) != 2 || o.End != capacity.EndCanceled {
			t.Fatalf("steps %d end %q err %v", len(o.Steps), o.End, err)
		}
	})
	t.Run("never above max_rate nor more than max_steps", func(t *testing.T) {
		for _, c := range []float64{5, 700, 4000, 1e5, 1e9} {
			p := p
			p.MaxRate, p.MaxSteps = 50000, 12
			f := &fakeBroker{capacity: c}
			o, _ := capacity.Search(context.Background(), p, f.run)
			if len(o.Steps) > 12 {
				t.Fatalf("capacity %v: %d steps", c, len(o.Steps))
			}
			for _, r := range f.rates {
				if r > 50000 || r < 10 {
					t.Fatalf("capacity %v: step at %v", c, r)
				}
			}
		}
	})
}

func sameRates(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9*math.Max(1, math.Abs(b[i])) {
			return false
		}
	}
	return true
}
