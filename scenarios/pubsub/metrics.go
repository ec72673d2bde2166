package pubsub

// Metric names of a pubsub result (Result.Metrics).
const (
	MetricSendFailures = "send_failures"
	MetricTargetRate   = "target_rate"
)
