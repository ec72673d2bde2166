package decoupling

// Metric names of a decoupling result (Result.Metrics); the _direct and
// _mq suffixes name the mode (Direct, MQ).
const (
	MetricOrdersDirect          = "orders_direct"
	MetricOrdersMQ              = "orders_mq"
	MetricOrdersFailedDirect    = "orders_failed_direct"
	MetricOrdersFailedMQ        = "orders_failed_mq"
	MetricSuccessRateDirect     = "success_rate_direct"
	MetricSuccessRateMQ         = "success_rate_mq"
	MetricResponseP50Direct     = "response_p50_ms_direct"
	MetricResponseP50MQ         = "response_p50_ms_mq"
	MetricResponseP99Direct     = "response_p99_ms_direct"
	MetricResponseP99MQ         = "response_p99_ms_mq"
	MetricOrders                = "orders"
	MetricOutageSeconds         = "outage_seconds"
	MetricStockConsistentDirect = "stock_consistent_direct"
	MetricFinalStockDirect      = "final_stock_direct"
	MetricE2EP50                = "e2e_p50_ms"
	MetricE2EP99                = "e2e_p99_ms"
	MetricE2EP99Before          = "e2e_p99_ms_before"
	MetricE2EP99During          = "e2e_p99_ms_during"
	MetricE2EP99After           = "e2e_p99_ms_after"
	MetricDuplicatesDelivered   = "duplicates_delivered"
	MetricDeductedMQ            = "deducted_mq"
	MetricBacklogPeak           = "backlog_peak"
	MetricBacklogAtRecovery     = "backlog_at_recovery"
	MetricBacklogPeakStick      = "backlog_peak_stick"
	MetricDepthPeak             = "depth_peak"
	MetricDrainExpectedSeconds  = "drain_expected_seconds"
	MetricResumeSeconds         = "resume_seconds"
	MetricDrainSeconds          = "drain_seconds"
	MetricDrainConsumeRate      = "drain_consume_rate"
	MetricStockConsistent       = "stock_consistent"
	MetricFinalStockMQ          = "final_stock_mq"
	MetricOrdersLostMQ          = "orders_lost_mq"
)

// Series names of a decoupling result (Result.Series), one value per
// second.
const (
	SeriesInventoryUp        = "inventory_up"
	SeriesOrdersOKDirect     = "orders_ok_direct"
	SeriesOrdersOKMQ         = "orders_ok_mq"
	SeriesOrdersFailedDirect = "orders_failed_direct"
	SeriesOrdersFailedMQ     = "orders_failed_mq"
	SeriesDeductedMQ         = "deducted_mq"
	SeriesBacklogSampled     = "backlog_sampled"
	SeriesDepth              = "depth"
)
