package scale

// Per-step metric suffixes: a step's metric is StepMetric(step, suffix),
// e.g. "dest100_e2e_p99_ms". Steps are named dest<N> (N destinations) and
// conn<N> (N producers and N consumers on one destination).
const (
	SuffixOK           = "ok"                  // 1 when the step ran, 0 when it could not (see the notes)
	SuffixDestinations = "destinations"        // count
	SuffixProducers    = "producers"           // count
	SuffixConsumers    = "consumers"           // count
	SuffixPartitions   = "partitions"          // per destination (Kafka partitions, RocketMQ queues)
	SuffixSetupS       = "setup_s"             // s to provision and open the clients
	SuffixSentPerS     = "sent_per_s"          // msg/s sent, measured window
	SuffixReceivedPerS = "received_per_s"      // msg/s received, measured window
	SuffixPublishP99   = "publish_p99_ms"      // ms, corrected
	SuffixE2EP99       = "e2e_p99_ms"          // ms, corrected
	SuffixBrokerRSS    = "broker_rss_peak_mib" // MiB, when Env.BrokerRSS reads
	SuffixConfirmed    = "confirmed"           // count
	SuffixLost         = "lost"                // count
	SuffixDrained      = "drained"             // 1 when every confirmed message arrived
	SuffixSendFailures = "send_failures"       // count of failed Sends
)

// Whole-run metrics.
const (
	MetricSteps       = "steps"        // count of steps attempted
	MetricStepsFailed = "steps_failed" // count of steps that could not run
)

// Series of a scale result (result.Series), one value per timeline second.
const (
	SeriesStep      = "step"           // 1-based index of the step running in that second, 0 between steps
	SeriesBrokerRSS = "broker_rss_mib" // MiB, when Env.BrokerRSS reads
)

// StepMetric names the metric suffix of step.
func StepMetric(step, suffix string) string { return step + "_" + suffix }
