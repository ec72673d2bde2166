package driver

import "time"

// BlockReporter is an optional interface (discovered by type assertion, as
// database/sql discovers optional driver interfaces) of a driver whose
// broker says when it blocks or refuses publishers for lack of a resource:
// RabbitMQ's connection.blocked / connection.unblocked (a memory or disk
// alarm), ActiveMQ's ERROR frame from producer flow control with
// sendFailIfNoSpace. A broker that only slows publishers without saying so
// (ActiveMQ withholding receipts under producer flow control) reports
// nothing here; scenarios detect that as a stall themselves. Kafka and
// RocketMQ append to their log regardless of consumer lag and have nothing
// to report.
type BlockReporter interface {
	// BlockEvents returns what the broker reported on this driver's
	// connections since the driver was opened, oldest first (an adapter
	// may keep only the most recent events; it then says so in its
	// documentation). It performs no I/O, is safe for concurrent use, and
	// the caller owns the returned slice.
	BlockEvents() []BlockEvent
}

// BlockEvent is one report of a broker blocking (or refusing) publishers.
type BlockEvent struct {
	// Start is when the broker said so; End when it lifted the block
	// (zero while still blocked). A refusal without duration (an ERROR
	// frame) has End equal to Start.
	Start, End time.Time
	// Source names the broker's mechanism, e.g. "connection.blocked" or
	// "ERROR frame".
	Source string
	// Reason is the broker's own words, e.g. "low on memory".
	Reason string
	// Conn names the connection it arrived on (adapter-specific).
	Conn string
}

// Open reports whether the block had not been lifted when it was read.
func (e BlockEvent) Open() bool { return e.End.IsZero() }

// Overlap returns how long e blocked within [from, to); an open event
// lasts until to.
func (e BlockEvent) Overlap(from, to time.Time) time.Duration {
	end := e.End
	if end.IsZero() || end.After(to) {
		end = to
	}
	start := e.Start
	if start.Before(from) {
		start = from
	}
	if !end.After(start) {
		return 0
	}
	return end.Sub(start)
}
