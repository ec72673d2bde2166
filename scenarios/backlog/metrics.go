package backlog

// Metric names of a backlog result (result.Metrics), with their units.
const (
	// Accumulation.
	MetricTargetBytes     = "target_bytes"            // bytes: the configured backlog
	MetricBacklogMessages = "backlog_messages"        // count: confirmed at the end of accumulation
	MetricBacklogBytes    = "backlog_bytes"           // bytes: the same in body bytes
	MetricReachedTarget   = "reached_target"          // 1 when the target ended accumulation, 0 when the time bound did
	MetricAccumulateS     = "accumulate_s"            // s: length of the accumulation
	MetricAccPublishRate  = "accumulate_publish_rate" // msg/s confirmed while accumulating
	MetricAccPublishP50   = "accumulate_publish_p50_ms"
	MetricAccPublishP99   = "accumulate_publish_p99_ms"
	MetricAccPublishMax   = "accumulate_publish_max_ms"
	MetricBlockedS        = "blocked_s" // s the broker said it blocked producers (union over connections), whole run
	MetricBlockedAccS     = "blocked_accumulate_s"
	MetricBlockEvents     = "block_events" // count of broker block reports, whole run
	MetricSlowedS         = "slowed_s"     // s covered by stalled sends (union over producers), whole run
	MetricSlowedAccS      = "slowed_accumulate_s"
	MetricStalledSends    = "stalled_sends"             // count, whole run
	MetricLongestSendMs   = "longest_send_ms"           // ms: the slowest Send, whole run
	MetricMedianSendMs    = "median_send_accumulate_ms" // ms: the median Send while accumulating
	MetricSendFailures    = "send_failures"             // count of failed Sends, whole run
	MetricBrokerRSSPeak   = "broker_rss_peak_mib"       // MiB, when Env.BrokerRSS reads
	MetricBrokerRSSAcc    = "broker_rss_accumulate_peak_mib"
	MetricBrokerDiskPeak  = "broker_disk_peak_mib" // MiB, when Env.BrokerDisk reads

	// Drain.
	MetricDrainProduceRate = "drain_produce_rate" // msg/s confirmed by producers during the drain
	MetricDrainRateLive    = "drain_rate_live"    // msg/s received while producers still sent
	// MetricDrainRate is the headline: msg/s the consumers received from
	// their start until they caught up (MetricCatchUpS), the rate at which
	// they worked the backlog off. When they never caught up, or caught up
	// before receiving anything (a backlog under one second of DrainRate),
	// it is MetricDrainRateToEmpty.
	MetricDrainRate = "drain_rate"
	// MetricDrainRateToEmpty is msg/s received from the consumers' start
	// until drained (or the bound). Producers go on for ProduceFor, so
	// while they do no broker can empty the backlog sooner: this figure is
	// bounded by (backlog + produced) / ProduceFor and does not separate
	// brokers that catch up within ProduceFor.
	MetricDrainRateToEmpty = "drain_rate_to_empty"
	MetricCatchUpRecv      = "catch_up_received" // count received from the consumers' start until they caught up
	MetricConsumerOpenS    = "consumer_open_s"   // s to open the consumers (part of the drain time)
	MetricCatchUpS         = "catch_up_s"        // s from consumers' start until the backlog first fell to one second of DrainRate
	MetricDrainS           = "drain_s"           // s from consumers' start until nothing remained; absent when not drained
	MetricRemaining        = "remaining"         // count of confirmed messages some group had not received at the end (0 when drained)
	MetricOldestAgeMs      = "oldest_age_ms"     // ms: age of the oldest message at delivery (max end-to-end)
	MetricDrainPublishP99  = "drain_publish_p99_ms"
)

// Series names of a backlog result (result.Series), one value per
// timeline second.
const (
	SeriesBrokerRSS  = "broker_rss_mib"  // MiB, when Env.BrokerRSS reads
	SeriesBrokerDisk = "broker_disk_mib" // MiB, when Env.BrokerDisk reads
	SeriesBlockedMs  = "blocked_ms"      // ms of the second the broker said it blocked producers
	SeriesSlowedMs   = "slowed_ms"       // ms of the second covered by stalled sends
	SeriesPhase      = "phase"           // 0 accumulate, 1 drain while producing, 2 drain only
)

// Latency names added to result.Latency (besides the stick's).
const (
	LatencyPublishAccumulate = "publish_accumulate" // confirm − intended send time, accumulation
	LatencyPublishDrain      = "publish_drain"      // the same while consumers drain
)
