package failover

// Metric names of a failover result (result.Metrics), with their units.
// Times are measured from the fault: the moment the killed node's
// processes are gone (cluster.Cluster.Kill returned), or in rolling mode
// each stopped node's (Stop returned); the figure is the longest over the
// nodes.
const (
	MetricRolling             = "rolling"                   // bool: 1 in rolling mode
	MetricControl             = "negative_control"          // bool: 1 for the checker's negative control (unreplicated), which must not pass
	MetricFaults              = "faults"                    // count: nodes killed or stopped
	MetricProducerUnavailable = "producer_unavailable_s"    // s: fault → first confirmed send of a message intended after it
	MetricConsumerUnavailable = "consumer_unavailable_s"    // s: fault → first delivery of a message intended after it
	MetricProducerRecovered   = "producer_recovered"        // bool: every fault was followed by a confirmed send before the load ended
	MetricConsumerRecovered   = "consumer_recovered"        // bool: every fault was followed by a delivery before the drain ended
	MetricUntilRestart        = "unavailable_until_restart" // bool: producers or consumers waited for the killed node itself to start again (no failover); kill mode only (a rolling restart starts each node at once)
	MetricRateBackS           = "rate_back_s"               // s: first fault → end of the first second back at the target after the last second short of it; 0 when never short; absent when never back
	MetricNodeDownS           = "node_down_s"               // s: fault → the node's start was asked (kill mode: ≈ Recovery); longest in rolling
	MetricStartS              = "start_s"                   // s: the node's start until it answered; longest
	MetricInSyncS             = "in_sync_s"                 // s: start asked → back in sync; longest; absent when a node never was
	MetricRejoined            = "rejoined"                  // bool: every faulted node was back in sync within sync_timeout
	MetricLost                = "lost"                      // count: the ledger's lost (also in accounting), for the charts
	MetricDuplicated          = "duplicated"                // count
	MetricReordered           = "reordered"                 // count
	MetricUnconfirmed         = "unconfirmed"               // count: sends that failed or whose outcome was unknown
	MetricSendFailures        = "send_failures"             // count of failed Sends
	MetricPublishP99Before    = "publish_p99_before_ms"
	MetricPublishP99During    = "publish_p99_during_ms"
	MetricPublishP99After     = "publish_p99_after_ms"
	MetricE2EP99Before        = "e2e_p99_before_ms"
	MetricE2EP99During        = "e2e_p99_during_ms"
	MetricE2EP99After         = "e2e_p99_after_ms"
)

// Series names of a failover result (result.Series), one value per
// timeline second.
const (
	SeriesReceived = "received_per_s" // distinct messages received in the second
	SeriesTarget   = "target_per_s"   // the configured rate
	SeriesNodeDown = "node_down"      // the target rate in seconds a node was down (killed or stopped, not yet started), else 0: marks the fault on the rate chart
)

// Latency names added to result.Latency (besides the stick's), by the
// intended send time of the message: before the first fault, during (until
// the last node was back in sync) and after.
const (
	LatencyPublishBefore = "publish_before"
	LatencyPublishDuring = "publish_during"
	LatencyPublishAfter  = "publish_after"
	LatencyE2EBefore     = "end_to_end_before"
	LatencyE2EDuring     = "end_to_end_during"
	LatencyE2EAfter      = "end_to_end_after"
)
