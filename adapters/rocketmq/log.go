package rocketmq

import (
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

var errUnsupported = errors.ErrUnsupported

// clientLogger routes the client library's rlog calls to a slog.Logger,
// dropping debug and info (the client logs every rebalance and offset
// fetch at info). Fatal is logged as an error: the library's default logger
// would exit the process. With dest set it logs to *dest, read at each
// call; otherwise to l.
type clientLogger struct {
	l    *slog.Logger
	dest *atomic.Pointer[slog.Logger]
}

var _ rlog.Logger = clientLogger{}

// The client library keeps its logger in an unsynchronised package variable
// (rlog.SetLogger) that its background goroutines read at any time, so
// replacing it while clients of an earlier driver still run is a data race.
// It is therefore replaced exactly once per process, by a logger that reads
// its destination from clientLogDest, which every New updates atomically.
// These two variables are the adapter's only package-level state.
var (
	clientLogOnce sync.Once
	clientLogDest atomic.Pointer[slog.Logger]
)

// installClientLogger makes l the destination of the client library's logs
// (the last New wins).
func installClientLogger(l *slog.Logger) {
	clientLogDest.Store(l.With("component", "rocketmq-client-go"))
	clientLogOnce.Do(func() { rlog.SetLogger(clientLogger{dest: &clientLogDest}) })
}

func (c clientLogger) logger() *slog.Logger {
	if c.dest != nil {
		if l := c.dest.Load(); l != nil {
			return l
		}
	}
	if c.l != nil {
		return c.l
	}
	return slog.New(slog.DiscardHandler)
}

func (c clientLogger) Debug(string, map[string]interface{}) {}
func (c clientLogger) Info(string, map[string]interface{})  {}
func (c clientLogger) Warning(msg string, fields map[string]interface{}) {
	c.logger().Warn(msg, attrs(fields)...)
}
func (c clientLogger) Error(msg string, fields map[string]interface{}) {
	c.logger().Error(msg, attrs(fields)...)
}
func (c clientLogger) Fatal(msg string, fields map[string]interface{}) {
	c.logger().Error("fatal: "+msg, attrs(fields)...)
}

// Level is ignored: the level is fixed at warning.
func (c clientLogger) Level(string) {}

// OutputPath is ignored: output goes to the slog.Logger.
func (c clientLogger) OutputPath(string) error { return nil }

// attrs turns rlog fields into slog arguments in key order.
func attrs(fields map[string]interface{}) []any {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, slog.Any(k, fields[k]))
	}
	return out
}
