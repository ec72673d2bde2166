package peakshaving

// Metric names of a peakshaving result (Result.Metrics).
const (
	MetricAdmissionBroker  = "admission_broker"
	MetricRequests         = "requests"
	MetricAccepted         = "accepted"
	MetricRejected         = "rejected"
	MetricErrors           = "errors"
	MetricInterrupted      = "interrupted"
	MetricProcessed        = "processed"
	MetricDuplicates       = "duplicates"
	MetricSold             = "sold"
	MetricOversold         = "oversold"
	MetricStockInitial     = "stock_initial"
	MetricStockFinal       = "stock_final"
	MetricThreshold        = "threshold"
	MetricQueueDepthPeak   = "queue_depth_peak"
	MetricQueueDepthLimit  = "queue_depth_limit"
	MetricCapacity         = "capacity"
	MetricArrivalRate      = "arrival_rate"
	MetricAcceptP99        = "accept_p99_ms"
	MetricAcceptServiceP99 = "accept_service_p99_ms"
	MetricRejectP99        = "reject_p99_ms"
	MetricRejectServiceP99 = "reject_service_p99_ms"
	MetricSelloutSeconds   = "sellout_seconds"
	MetricDBErrors         = "db_errors"
	MetricSaleRestarts     = "sale_restarts"
)

// Series names of a peakshaving result (Result.Series), one value per
// second.
const (
	SeriesInputPerS     = "input_per_s"
	SeriesProcessedPerS = "processed_per_s"
	SeriesQueueDepth    = "queue_depth"
	SeriesThreshold     = "threshold"
)
