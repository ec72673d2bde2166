package capacity

import (
	"context"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// withReference runs f on a rig of the same shape on a fresh reference
// broker (Env.Reference). It returns false, with a note saying why the
// figure (what) was not measured, when there is no reference broker or it
// cannot be opened.
func (rn *runner) withReference(ctx context.Context, what, name string, f func(r *rig)) bool {
	env := rn.env
	if env.Reference == nil {
		rn.notef("%s not measured (no reference broker): broker figures are not checked against mqbench's own limits", what)
		return false
	}
	drv, err := env.Reference(ctx, driver.Config{Profile: env.Profile, Logger: env.Log})
	if err != nil {
		rn.notef("%s not measured: reference broker: %v", what, err)
		return false
	}
	defer drv.Close()
	r, err := openRig(ctx, drv, env.Prefix+"-"+name, rn.c, env.RunID^(1<<63), time.Now(), rn.seconds, env.Log)
	if err != nil {
		rn.notef("%s not measured: %v", what, err)
		return false
	}
	defer r.close(ctx)
	f(r)
	return true
}

// measureCeiling runs the pipeline closed loop through the reference
// broker and returns its received rate (0 when not measured), noting its
// accounting.
func (rn *runner) measureCeiling(ctx context.Context) float64 {
	var rate float64
	rn.withReference(ctx, "harness ceiling", "ceiling", func(r *rig) {
		out := r.ceiling(ctx)
		a := out.st.Summary(true).Accounting
		rate = out.rate
		rn.notef("harness ceiling: closed loop through the in-process reference broker, same producers, consumers, batch and size: %.0f msg/s received (sent %d, received %d, lost %d, duplicated %d; not part of the accounting)",
			out.rate, a.Sent, a.Received, a.Lost, a.Duplicated)
	})
	return rate
}

// measureFloor runs one open-loop step at target msg/s through the
// reference broker: its latencies are what mqbench itself adds at that
// rate (the schedule's lateness, stamping, the probe), the floor under the
// broker's. Nil when not measured.
func (rn *runner) measureFloor(ctx context.Context, target float64) *Step {
	var out *Step
	rn.withReference(ctx, "harness latency floor", "floor", func(r *rig) {
		s, _ := r.step(ctx, target, KindFloor)
		rn.c.Rules().Judge(&s)
		out = &s
		if obj := ms(rn.c.Objective); s.EndToEndP99 >= obj/2 || s.PublishP99 >= obj/2 {
			rn.notef("harness-limited latency: at %.0f msg/s mqbench alone shows publish p99 %.3g ms and end-to-end p99 %.3g ms, half the %.3g ms objective or more", target, s.PublishP99, s.EndToEndP99, obj)
		}
	})
	return out
}
