package claims

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/backlog"
	"github.com/mqbench/mqbench/scenarios/capacity"
	"github.com/mqbench/mqbench/scenarios/failover"
	"github.com/mqbench/mqbench/scenarios/scale"
	"github.com/mqbench/mqbench/scenarios/transaction"
)

// cells builds evidence: scenario → broker → one value per repeat of the
// scenario's deciding figure (see set).
type cells map[string]map[string][]float64

// evidence turns c into results: capacity's maximum, backlog's catch-up,
// scale's steps (1 and 100 destinations, kept = value %), transaction's
// p99, failover's producer unavailability (one node killed, failed over);
// every run passes with nothing lost unless mod changes it.
func evidence(c cells, recommended string, mod func(r *result.Result)) present.Evidence {
	ev := present.Evidence{Cells: present.Cells{}, Recommended: recommended}
	for s, byBroker := range c {
		ev.Cells[s] = map[string][]*result.Result{}
		for b, vs := range byBroker {
			for i, v := range vs {
				r := &result.Result{Scenario: s, Broker: result.Broker{Name: b}, Status: result.StatusComplete,
					Verdict: result.Verdict{Pass: true}, Repeat: &result.Repeat{Set: "x", Index: i + 1, Of: len(vs)}}
				set(r, v)
				if mod != nil {
					mod(r)
				}
				ev.Cells[s][b] = append(ev.Cells[s][b], r)
			}
		}
	}
	return ev
}

func set(r *result.Result, v float64) {
	switch r.Scenario {
	case "capacity":
		r.SetMetric(capacity.MaxSustainableMsgs, v, "msg/s")
	case "backlog":
		r.SetMetric(backlog.MetricCatchUpS, v, "s")
	case "transaction":
		r.SetMetric(transaction.MetricTTCP99, v, "ms")
	case "failover":
		r.SetMetric(failover.MetricRolling, 0, "bool")
		r.SetMetric(failover.MetricFaults, 1, "count")
		r.SetMetric(failover.MetricProducerUnavailable, v, "s")
		r.SetMetric(failover.MetricConsumerUnavailable, v+1, "s")
		r.SetMetric(failover.MetricProducerRecovered, 1, "bool")
		r.SetMetric(failover.MetricConsumerRecovered, 1, "bool")
		r.SetMetric(failover.MetricUntilRestart, 0, "bool")
	case "scale":
		for _, step := range []struct {
			n    int
			rate float64
		}{{1, 1000}, {100, 10 * v}} {
			name := fmt.Sprintf("dest%d", step.n)
			r.SetMetric(scale.StepMetric(name, scale.SuffixOK), 1, "")
			r.SetMetric(scale.StepMetric(name, scale.SuffixReceivedPerS), step.rate, "msg/s")
		}
	}
}

// find returns the claim of broker b whose text starts with text.
func find(t *testing.T, b, text string) present.Claim {
	t.Helper()
	for _, c := range Table() {
		if c.Broker == b && strings.HasPrefix(c.Text, text) {
			return c
		}
	}
	t.Fatalf("no claim %s %q", b, text)
	return present.Claim{}
}

func TestClaims(t *testing.T) {
	const (
		S = present.Supported
		C = present.Contradicted
		N = present.NotMeasured
		U = present.Undecided
	)
	lose := func(b string) func(r *result.Result) {
		return func(r *result.Result) {
			if r.Broker.Name == b {
				r.Accounting.Lost = 1
			}
		}
	}
	// dup gives b's runs duplicates, after crashes of its consumers
	// (the transaction scenario's) or without.
	dup := func(b string, crashes float64) func(r *result.Result) {
		return func(r *result.Result) {
			if r.Broker.Name == b {
				r.Accounting.Duplicated = 7
				r.SetMetric(transaction.MetricConsumerCrashes, crashes, "count")
			}
		}
	}
	// rocket changes RocketMQ's results only.
	rocket := func(f func(r *result.Result)) func(r *result.Result) {
		return func(r *result.Result) {
			if r.Broker.Name == "rocketmq" {
				f(r)
			}
		}
	}
	tests := []struct {
		broker, claim, name string
		cells               cells
		recommended         string
		mod                 func(*result.Result)
		want                present.Verdict
	}{
		{"activemq", "weaker", "lowest capacity", cells{"capacity": {"activemq": {10, 11, 12}, "kafka": {30, 31, 32}, "rabbitmq": {20, 21, 22}}}, "", nil, S},
		{"activemq", "weaker", "above rabbitmq", cells{"capacity": {"activemq": {25, 26, 27}, "kafka": {30, 31, 32}, "rabbitmq": {20, 21, 22}}}, "", nil, C},
		{"activemq", "weaker", "overlapping", cells{"capacity": {"activemq": {19, 21, 23}, "rabbitmq": {20, 21, 22}}}, "", nil, U},
		{"activemq", "weaker", "no capacity run", cells{"backlog": {"activemq": {1}, "kafka": {2}}}, "", nil, N},
		{"activemq", "weaker", "activemq alone", cells{"capacity": {"activemq": {1}}}, "", nil, N},

		{"activemq", "under high", "slowest catch-up", cells{"backlog": {"activemq": {30, 31}, "kafka": {2, 3}}}, "", nil, S},
		{"activemq", "under high", "worst kept at scale", cells{"backlog": {"activemq": {2, 3}, "kafka": {30, 31}}, "scale": {"activemq": {50, 51}, "kafka": {99, 100}}}, "", nil, S},
		{"activemq", "under high", "better than kafka on both", cells{"backlog": {"activemq": {2, 3}, "kafka": {30, 31}}, "scale": {"activemq": {99, 100}, "kafka": {50, 51}}}, "", nil, C},
		{"activemq", "under high", "neither scenario", cells{"capacity": {"activemq": {1}, "kafka": {2}}}, "", nil, N},

		{"rabbitmq", "reliability", "clean and not fastest", cells{"capacity": {"rabbitmq": {10, 11}, "kafka": {30, 31}}}, "", nil, S},
		{"rabbitmq", "reliability", "lost a message", cells{"capacity": {"rabbitmq": {10, 11}, "kafka": {30, 31}}}, "", lose("rabbitmq"), C},
		{"rabbitmq", "reliability", "redelivered after consumer crashes", cells{"transaction": {"rabbitmq": {5}}, "capacity": {"rabbitmq": {10, 11}, "kafka": {30, 31}}}, "", dup("rabbitmq", 3), S},
		{"rabbitmq", "reliability", "duplicated without a crash", cells{"capacity": {"rabbitmq": {10, 11}, "kafka": {30, 31}}}, "", dup("rabbitmq", 0), C},
		{"rabbitmq", "reliability", "the fastest", cells{"capacity": {"rabbitmq": {40, 41}, "kafka": {30, 31}}}, "", nil, C},
		{"rabbitmq", "reliability", "no capacity", cells{"async": {"rabbitmq": {1}}}, "", nil, N},

		{"kafka", "the highest", "highest", cells{"capacity": {"kafka": {30, 31}, "rocketmq": {20, 21}, "rabbitmq": {10}}}, "", nil, S},
		{"kafka", "the highest", "rocketmq higher", cells{"capacity": {"kafka": {30, 31}, "rocketmq": {40, 41}}}, "", nil, C},
		{"kafka", "the highest", "overlap at the top", cells{"capacity": {"kafka": {30, 41}, "rocketmq": {35, 40}}}, "", nil, U},
		{"kafka", "the highest", "kafka missing", cells{"capacity": {"rocketmq": {35, 40}, "rabbitmq": {1}}}, "", nil, N},

		{"kafka", "suited", "fastest catch-up", cells{"backlog": {"kafka": {1, 2}, "rabbitmq": {5, 6}}}, "", nil, S},
		{"kafka", "suited", "rocketmq faster", cells{"backlog": {"kafka": {5, 6}, "rocketmq": {1, 2}}}, "", nil, C},
		{"kafka", "suited", "no backlog", cells{}, "", nil, N},

		{"rocketmq", "high throughput", "above half", cells{"capacity": {"rocketmq": {20, 21}, "kafka": {30, 31}, "rabbitmq": {10, 11}, "activemq": {5, 6}}}, "", nil, S},
		{"rocketmq", "high throughput", "below half", cells{"capacity": {"rocketmq": {8, 9}, "kafka": {30, 31}, "rabbitmq": {10, 11}, "activemq": {5, 6}}}, "", nil, C},
		{"rocketmq", "high throughput", "not run", cells{"capacity": {"kafka": {30, 31}}}, "", nil, N},

		{"rocketmq", "high availability", "fastest failover, nothing lost", cells{"failover": {"rocketmq": {5, 6}, "kafka": {10, 11}}}, "", nil, S},
		{"rocketmq", "high availability", "not the slowest", cells{"failover": {"rocketmq": {10, 11}, "kafka": {5, 6}, "rabbitmq": {20, 21}}}, "", nil, S},
		{"rocketmq", "high availability", "alone, clean", cells{"failover": {"rocketmq": {5}}}, "", nil, S},
		{"rocketmq", "high availability", "overlaps the others", cells{"failover": {"rocketmq": {5, 12}, "kafka": {6, 11}}}, "", nil, S},
		{"rocketmq", "high availability", "lost a confirmed message", cells{"failover": {"rocketmq": {5, 6}, "kafka": {10, 11}}}, "",
			rocket(func(r *result.Result) {
				r.Accounting.Lost, r.Verdict = 1, result.Verdict{Violations: []string{"1 confirmed messages lost"}}
			}), C},
		{"rocketmq", "high availability", "waited for the killed node", cells{"failover": {"rocketmq": {5, 6}, "kafka": {10, 11}}}, "",
			rocket(func(r *result.Result) {
				r.SetMetric(failover.MetricUntilRestart, 1, "bool")
				r.Verdict = result.Verdict{Violations: []string{"no failover"}}
			}), C},
		{"rocketmq", "high availability", "producers never back", cells{"failover": {"rocketmq": {5}}}, "",
			rocket(func(r *result.Result) { r.SetMetric(failover.MetricProducerRecovered, 0, "bool") }), C},
		{"rocketmq", "high availability", "slowest of all", cells{"failover": {"rocketmq": {20, 21}, "kafka": {5, 6}, "rabbitmq": {10, 11}}}, "", nil, C},
		{"rocketmq", "high availability", "failed otherwise, nothing lost", cells{"failover": {"rocketmq": {5, 6}, "kafka": {10, 11}}}, "",
			rocket(func(r *result.Result) { r.Verdict = result.Verdict{Violations: []string{"node did not rejoin"}} }), U},
		{"rocketmq", "high availability", "single-node matrix", cells{"capacity": {"rocketmq": {1}}, "pubsub": {"rocketmq": {1}}}, "", nil, N},
		{"rocketmq", "high availability", "only kafka failed over", cells{"failover": {"kafka": {2}}}, "", nil, N},
		{"rocketmq", "high availability", "rolling mode only", cells{"failover": {"rocketmq": {5}, "kafka": {9}}}, "",
			rocket(func(r *result.Result) { r.SetMetric(failover.MetricRolling, 1, "bool") }), N},
		{"rocketmq", "high availability", "negative control only", cells{"failover": {"rocketmq": {85}, "kafka": {9}}}, "",
			rocket(func(r *result.Result) {
				r.SetMetric(failover.MetricControl, 1, "bool")
				r.SetMetric(failover.MetricUntilRestart, 1, "bool")
				r.Verdict = result.Verdict{Violations: []string{"no failover"}}
			}), N},
		{"rocketmq", "high availability", "fast profile only", cells{"failover": {"rocketmq": {5}}}, "",
			rocket(func(r *result.Result) { r.Profile = driver.Fast }), N},
		{"rocketmq", "high availability", "no node was killed", cells{"failover": {"rocketmq": {5}}}, "",
			rocket(func(r *result.Result) { r.SetMetric(failover.MetricFaults, 0, "count") }), N},

		{"rocketmq", "reliable", "fastest and clean", cells{"transaction": {"rocketmq": {10, 11}, "kafka": {50, 51}}}, "", nil, S},
		{"rocketmq", "reliable", "slower", cells{"transaction": {"rocketmq": {1000, 2000}, "activemq": {90, 95}}}, "", nil, C},
		{"rocketmq", "reliable", "fast but lost", cells{"transaction": {"rocketmq": {10, 11}, "kafka": {50, 51}}}, "", lose("rocketmq"), C},
		{"rocketmq", "reliable", "redelivered after consumer crashes", cells{"transaction": {"rocketmq": {10, 11}, "kafka": {50, 51}}}, "", dup("rocketmq", 3), S},
		{"rocketmq", "reliable", "duplicated without a crash", cells{"transaction": {"rocketmq": {10, 11}, "kafka": {50, 51}}}, "", dup("rocketmq", 0), C},
		{"rocketmq", "reliable", "no transaction run", cells{"capacity": {"rocketmq": {1}}}, "", nil, N},

		{"", "RabbitMQ by default", "recommended", cells{"async": {"rabbitmq": {1}, "kafka": {1}}}, "rabbitmq", nil, S},
		{"", "RabbitMQ by default", "kafka recommended", cells{"async": {"rabbitmq": {1}, "kafka": {1}}}, "kafka", nil, C},
		{"", "RabbitMQ by default", "no recommendation", cells{"async": {"rabbitmq": {1}}}, "", nil, N},
		{"", "RabbitMQ by default", "rabbitmq did not run", cells{"async": {"kafka": {1}}}, "kafka", nil, N},

		{"", "Kafka or RocketMQ", "both lead", cells{"capacity": {"kafka": {30, 31}, "rabbitmq": {10, 11}}, "backlog": {"rocketmq": {1, 2}, "rabbitmq": {5, 6}}}, "", nil, S},
		{"", "Kafka or RocketMQ", "rabbitmq ahead on capacity", cells{"capacity": {"kafka": {30, 31}, "rabbitmq": {40, 41}}, "backlog": {"kafka": {1, 2}, "rabbitmq": {5, 6}}}, "", nil, C},
		{"", "Kafka or RocketMQ", "overlap", cells{"capacity": {"kafka": {30, 41}, "rabbitmq": {35, 40}}, "backlog": {"kafka": {1, 2}, "rabbitmq": {5, 6}}}, "", nil, U},
		{"", "Kafka or RocketMQ", "no backlog", cells{"capacity": {"kafka": {30, 31}, "rabbitmq": {10, 11}}}, "", nil, N},
	}
	for _, tt := range tests {
		t.Run(tt.broker+" "+tt.claim+": "+tt.name, func(t *testing.T) {
			d := find(t, tt.broker, tt.claim).Decide(evidence(tt.cells, tt.recommended, tt.mod))
			if d.Verdict != tt.want {
				t.Fatalf("verdict %q, want %q (figures: %v)", d.Verdict, tt.want, d.Figures)
			}
			if len(d.Figures) == 0 {
				t.Error("no deciding figures given")
			}
		})
	}
}

// TestEveryClaimIsCovered checks that the table's every claim has a rule
// in words and decides the empty evidence as not measured.
func TestEveryClaimIsCovered(t *testing.T) {
	for _, c := range Table() {
		if c.Text == "" || c.Rule == "" || c.Decide == nil {
			t.Errorf("claim %+v lacks text, rule or decision", c)
			continue
		}
		if d := c.Decide(present.Evidence{}); d.Verdict != present.NotMeasured {
			t.Errorf("%s %q on no evidence: %q, want not measured", c.Broker, c.Text, d.Verdict)
		}
	}
}
