package rocketmq

import (
	"errors"
	"log/slog"
	"sort"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

var errUnsupported = errors.ErrUnsupported

// clientLogger routes the client library's rlog calls to a slog.Logger,
// dropping debug and info (the client logs every rebalance and offset
// fetch at info). Fatal is logged as an error: the library's default logger
// would exit the process.
type clientLogger struct{ l *slog.Logger }

var _ rlog.Logger = clientLogger{}

// installClientLogger replaces the client library's package-global logger.
func installClientLogger(l *slog.Logger) {
	rlog.SetLogger(clientLogger{l: l.With("component", "rocketmq-client-go")})
}

func (c clientLogger) Debug(string, map[string]interface{}) {}
func (c clientLogger) Info(string, map[string]interface{})  {}
func (c clientLogger) Warning(msg string, fields map[string]interface{}) {
	c.l.Warn(msg, attrs(fields)...)
}
func (c clientLogger) Error(msg string, fields map[string]interface{}) {
	c.l.Error(msg, attrs(fields)...)
}
func (c clientLogger) Fatal(msg string, fields map[string]interface{}) {
	c.l.Error("fatal: "+msg, attrs(fields)...)
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
