package transaction

// Metric names of a transaction result (Result.Metrics).
const (
	MetricNative              = "native"
	MetricNativeSupported     = "native_supported"
	MetricOrders              = "orders"
	MetricOrdersPerS          = "orders_per_s"
	MetricPublished           = "published"
	MetricDuplicatesDelivered = "duplicates_delivered"
	MetricDuplicatesApplied   = "duplicates_applied"
	MetricOutboxRemaining     = "outbox_remaining"
	MetricHistoryRows         = "history_rows"
	MetricRetries             = "retries"
	MetricTTCP50              = "ttc_p50_ms"
	MetricTTCP99              = "ttc_p99_ms"
	MetricConsistent          = "consistent"
	MetricStockInitial        = "stock_initial"
	MetricStockFinal          = "stock_final"
	MetricOrdersNotDeducted   = "orders_not_deducted"
	MetricFailuresInjected    = "failures_injected"
	MetricConsumerCrashes     = "consumer_crashes"
	MetricRelayCrashes        = "relay_crashes"
	MetricFailedResults       = "failed_results"
	MetricDuplicateResults    = "duplicate_results"
	MetricSendFailures        = "send_failures"
	MetricOrderErrors         = "order_errors"
	MetricInsufficientStock   = "insufficient_stock"
	MetricConsumerRestarts    = "consumer_restarts"
	MetricUnknownOrders       = "unknown_orders"
)

// Series names of a transaction result (Result.Series), one value per
// second.
const (
	SeriesOrdersPerS     = "orders_per_s"
	SeriesConsistentPerS = "consistent_per_s"
	SeriesPendingOrders  = "pending_orders"
	SeriesTTCMax         = "ttc_max_ms"
)
