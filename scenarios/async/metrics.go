package async

// Metric names of an async result (Result.Metrics). Response times are in
// ms, per mode (Serial, Parallel, MQ).
const (
	MetricResponseP50Serial   = "response_p50_ms_serial"
	MetricResponseP50Parallel = "response_p50_ms_parallel"
	MetricResponseP50MQ       = "response_p50_ms_mq"
	MetricResponseP90Serial   = "response_p90_ms_serial"
	MetricResponseP90Parallel = "response_p90_ms_parallel"
	MetricResponseP90MQ       = "response_p90_ms_mq"
	MetricResponseP99Serial   = "response_p99_ms_serial"
	MetricResponseP99Parallel = "response_p99_ms_parallel"
	MetricResponseP99MQ       = "response_p99_ms_mq"

	MetricRegistrations       = "registrations"
	MetricEmailsSent          = "emails_sent"
	MetricSMSSent             = "sms_sent"
	MetricDuplicatesDelivered = "duplicates_delivered"
	MetricDoubleSends         = "double_sends"
	MetricServiceDBErrors     = "service_db_errors"
	MetricDBWriteP50          = "db_write_p50_ms"
	MetricNotifyP50           = "notify_p50_ms"
	MetricNotifyP99           = "notify_p99_ms"
	MetricNotifyEmailP99      = "notify_email_p99_ms"
	MetricNotifySMSP99        = "notify_sms_p99_ms"
)

// Series names of an async result (Result.Series), one value per second.
const (
	SeriesEmailsSent       = "emails_sent"
	SeriesSMSSent          = "sms_sent"
	SeriesAnsweredSerial   = "answered_serial"
	SeriesAnsweredParallel = "answered_parallel"
	SeriesAnsweredMQ       = "answered_mq"
)
