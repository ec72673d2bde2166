package capacity

import "fmt"

// Metric names (result.Metrics) the capacity scenario writes. A figure
// that was not measured is absent, never zero-filled.
const (
	// MaxSustainableMsgs is the highest sustained step's target rate
	// (msg/s); 0 when no step was sustained. MaxSustainableMBs is the same
	// in MB/s (10^6 bytes, message size × rate).
	MaxSustainableMsgs = "max_sustainable_msgs"
	MaxSustainableMBs  = "max_sustainable_mbs"
	// FailedAboveMsgs is the lowest failed rate above the maximum (msg/s):
	// the true maximum lies between the two. Absent when no step failed.
	FailedAboveMsgs = "failed_above_msgs"
	// LatencyObjectiveMs is the objective the steps were judged by.
	LatencyObjectiveMs = "latency_objective_ms"
	// Steps counts every step (search and curve); SearchSteps the
	// search's.
	Steps       = "steps"
	SearchSteps = "search_steps"
	// CPUPerMillion is the broker's CPU seconds per million messages
	// received over the maximum step's window; absent when the broker's
	// CPU cannot be read (Env.BrokerCPU nil or not ok).
	CPUPerMillion = "cpu_s_per_million"
	// HarnessCeilingMsgs and HarnessCeilingMBs are mqbench's own ceiling:
	// the closed-loop received rate of the same pipeline through the
	// reference broker. Absent when Env.Reference is nil.
	HarnessCeilingMsgs = "harness_ceiling_msgs"
	HarnessCeilingMBs  = "harness_ceiling_mbs"
	// ScheduleDelayP99 is the schedule delay p99 (ms, actual − intended
	// send time) of the maximum step: the schedule's own lateness plus the
	// wait behind Sends the broker was slow to confirm.
	ScheduleDelayP99 = "schedule_delay_p99_ms"
	// HarnessFloorPublishP99, HarnessFloorE2EP99 and
	// HarnessFloorScheduleP99 (ms) are the p99s of one step at the
	// maximum's rate through the reference broker: what mqbench itself
	// adds at that rate, the floor under the broker's latencies.
	// HarnessLimitedLatency is 1 when that floor reaches half the
	// objective. Absent when Env.Reference is nil or no maximum was found.
	HarnessFloorPublishP99  = "harness_floor_publish_p99_ms"
	HarnessFloorE2EP99      = "harness_floor_e2e_p99_ms"
	HarnessFloorScheduleP99 = "harness_floor_schedule_p99_ms"
	HarnessLimitedLatency   = "harness_limited_latency"
	// PublishOnlyMsgs and PublishOnlyMBs are the confirmed publish rate
	// with no consumer receiving; PublishOnlyP99 its publish p99 (ms).
	PublishOnlyMsgs = "publish_only_msgs"
	PublishOnlyMBs  = "publish_only_mbs"
	PublishOnlyP99  = "publish_only_p99_ms"
	// DrainOnlyMsgs and DrainOnlyMBs are the rate at which the consumers
	// drained the backlog publish-only left.
	DrainOnlyMsgs = "drain_only_msgs"
	DrainOnlyMBs  = "drain_only_mbs"
	// HarnessLimitedMax, HarnessLimitedPublish and HarnessLimitedDrain are
	// 1 when the figure is at 50% of the harness ceiling or more (mqbench
	// may be the limit), else 0. Absent with the ceiling.
	HarnessLimitedMax     = "harness_limited_max"
	HarnessLimitedPublish = "harness_limited_publish"
	HarnessLimitedDrain   = "harness_limited_drain"
)

// Curve metric prefixes: CurveMetric(prefix, pct) names the figure at pct
// percent of the maximum (10, 50, 80 and 100), e.g.
// "curve_e2e_p99_ms_80".
const (
	CurveRate       = "curve_rate_msgs"      // the step's target rate
	CurvePublishP99 = "curve_publish_p99_ms" // publish p99
	CurveE2EP50     = "curve_e2e_p50_ms"     // end-to-end p50
	CurveE2EP99     = "curve_e2e_p99_ms"     // end-to-end p99
	CurveSustained  = "curve_sustained"      // 1 when the step was sustained
)

// CurveMetric returns the name of a curve figure at pct percent of the
// maximum.
func CurveMetric(prefix string, pct int) string { return fmt.Sprintf("%s_%d", prefix, pct) }

// HarnessLimitFraction: a broker figure at this fraction of the harness
// ceiling or more is marked harness-limited.
const HarnessLimitFraction = 0.5

// Series names (result.Series). Each holds one value per step in the
// order the steps ran (search steps, then curve steps), NOT one per
// second; SeriesStepStart places each on the timeline.
const (
	SeriesStepStart     = "step_start_s"         // when the step began, seconds from the run's start
	SeriesStepRate      = "step_rate"            // target rate, msg/s
	SeriesStepReceived  = "step_received"        // received rate over the window, msg/s
	SeriesStepP99       = "step_p99_ms"          // publish p99
	SeriesStepE2EP99    = "step_e2e_p99_ms"      // end-to-end p99
	SeriesStepSchedule  = "step_schedule_p99_ms" // harness lateness p99
	SeriesStepBacklog   = "step_backlog_growth"  // backlog growth over the window, messages
	SeriesStepMissing   = "step_missing"         // confirmed, not received by the step's end
	SeriesStepSustained = "step_sustained"       // 1 sustained, 0 not
	SeriesStepCurve     = "step_curve"           // 1 for a curve step, 0 for a search step
	// SeriesStepCPU is the broker's CPU seconds per million messages of
	// each step; present only when the broker's CPU was read for every
	// step.
	SeriesStepCPU = "step_cpu_s_per_million"
)
