// Package async is the asynchronous-processing scenario (user
// registration), scenarios.md §1.
//
// A user registers: the system writes the user to a real database (embedded
// SQLite) and must send a registration email and an SMS (simulated work
// times, default 50 ms each). Three modes run one after the other in one
// run, with the same costs and the same open-loop arrival rate:
//
//   - serial: write DB, send email, send SMS, answer;
//   - parallel: write DB, send email and SMS concurrently, answer when both
//     finished;
//   - mq: write DB, publish one user.registered message, answer once the
//     broker confirmed it. An email service and an SMS service, each a
//     consumer group of the destination, receive every message and send.
//     Both are idempotent: a processed table in their own database, keyed
//     by user id, is claimed before sending, so a duplicate delivery is
//     counted (duplicates_delivered) and never sends twice.
//
// Response time is measured from the intended request start of the
// open-loop schedule to the answer; notification latency from the same
// start to the email (or SMS) sent. Each mode gets Duration/len(modes) of
// measured load after its own warm-up.
package async

import (
	"context"
	"fmt"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
)

// The modes, in the order they run.
const (
	Serial   = "serial"
	Parallel = "parallel"
	MQ       = "mq"
)

// Consumer groups of the mq mode.
const (
	GroupEmail = "email"
	GroupSMS   = "sms"
)

// kindRegistered marks a user.registered body (the byte after the envelope);
// the user id follows as 8 bytes big endian.
const kindRegistered byte = 1

// minSize is the smallest body: envelope, kind byte and user id.
const minSize = svc.PayloadOffset + 8

// phaseGap separates the modes so one mode's last answers do not overlap the
// next mode's requests.
const phaseGap = time.Second

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "async" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "user registration: serial vs parallel vs message queue response time; email and SMS services as two consumer groups, idempotent"
}

// DefaultConfig implements scenarios.Scenario.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 100, Duration: 60 * time.Second, Warmup: 3 * time.Second, Drain: 30 * time.Second,
			Size: 256, Producers: 32, Consumers: 1, Partitions: 1,
		},
		Modes:     []string{Serial, Parallel, MQ},
		EmailTime: 50 * time.Millisecond, SMSTime: 50 * time.Millisecond,
		MaxInFlight: 2000, Batch: 64, ReadyTimeout: 60 * time.Second,
	}
	if quick {
		c.Duration, c.Warmup, c.Drain = 9*time.Second, time.Second, 20*time.Second
	}
	return c
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("async: config is %T, want *async.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("async: %w", err)
	}
	r := &run{c: c, env: env}
	return r.run(ctx)
}
