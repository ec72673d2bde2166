// Package claims is the explicit table of the common wisdom's claims about
// the four brokers, in the seed's own terms, each with the rule that
// decides it from a run's results: supported, contradicted, not decided
// (the deciding intervals overlap) or not measured in this run. The report
// renders the table in its section "What the common wisdom says, and what
// this run measured"; the rules are documented in the README.
//
// Comparisons use each cell's median over its repeats and its confidence
// interval (report/stats): one broker beats another on a figure only when
// their intervals do not overlap. A single run has no interval, so two
// single runs differ whenever their figures differ.
package claims

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/report/stats"
	"github.com/mqbench/mqbench/scenarios/backlog"
	"github.com/mqbench/mqbench/scenarios/capacity"
	"github.com/mqbench/mqbench/scenarios/failover"
	"github.com/mqbench/mqbench/scenarios/scale"
	"github.com/mqbench/mqbench/scenarios/transaction"
)

// Broker names as the results spell them.
const (
	activemq = "activemq"
	rabbitmq = "rabbitmq"
	kafka    = "kafka"
	rocketmq = "rocketmq"
)

// The figures the claims are decided on.
var (
	capacityMax = figure{"capacity", "max sustainable msg/s", true, metric(capacity.MaxSustainableMsgs)}
	catchUp     = figure{"backlog", "backlog catch-up s", false, metric(backlog.MetricCatchUpS)}
	kept        = figure{"scale", "throughput kept at 100 destinations %", true, headline(scale.Scenario{})}
	txP99       = figure{"transaction", "time to consistency p99 ms", false, metric(transaction.MetricTTCP99)}
	prodUnavail = figure{"failover", "producer unavailability s (kill, durable)", false, onlyIf(killedDurable, metric(failover.MetricProducerUnavailable))}
)

// Table returns the claims in the order the report shows them.
func Table() []present.Claim {
	return []present.Claim{
		{Broker: activemq, Text: "weaker performance than the others",
			Rule:   "capacity: supported when ActiveMQ's maximum sustainable rate is below every other broker's, contradicted when it is above any other broker's",
			Decide: worstOn(activemq, capacityMax)},
		{Broker: activemq, Text: "under high concurrency and large data: message delay, accumulation and blocking",
			Rule:   "backlog catch-up time and scale's throughput kept at 100 destinations: supported when ActiveMQ is the worst broker on either, contradicted when another broker is worse on both",
			Decide: worstOnEither(activemq, catchUp, kept)},
		{Broker: rabbitmq, Text: "reliability and consistency first, performance and throughput second",
			Rule:   "every cell and capacity: supported when RabbitMQ lost and duplicated nothing in every run and another broker's maximum sustainable rate is above its own; contradicted when it lost or duplicated a message, or its maximum is above every other broker's",
			Decide: reliabilityFirst},
		{Broker: kafka, Text: "the highest throughput",
			Rule:   "capacity: supported when Kafka's maximum sustainable rate is above every other broker's, contradicted when another broker's is above Kafka's",
			Decide: bestOn(kafka, capacityMax)},
		{Broker: kafka, Text: "suited to collecting large data volumes",
			Rule:   "backlog: supported when Kafka catches up with a backlog faster than every other broker, contradicted when another broker catches up faster",
			Decide: bestOn(kafka, catchUp)},
		{Broker: rocketmq, Text: "high throughput for large distributed systems",
			Rule:   "capacity: supported when RocketMQ's maximum sustainable rate is above at least half of the other brokers', contradicted when it is below at least half of them",
			Decide: upperHalf(rocketmq, capacityMax)},
		{Broker: rocketmq, Text: "high availability",
			Rule: "failover in kill mode and the durable profile (a node killed under load; clusters only): supported when RocketMQ's runs all passed with nothing lost " +
				"and its producer unavailability is not above every other broker's that ran failover (alone: on its own runs); contradicted when a run lost a confirmed message, " +
				"did not fail over (waited for the killed node, or producers or consumers never served again) or its producer unavailability is above every other broker's",
			Decide: highAvailability},
		{Broker: rocketmq, Text: "reliable delivery, with transactions optimised",
			Rule:   "transaction: supported when RocketMQ's transaction runs all passed with nothing lost or duplicated and its p99 time to consistency is below every other broker's; contradicted when a run failed or lost a message, or another broker's p99 is below RocketMQ's",
			Decide: transactionsOptimised},
		{Text: "RabbitMQ by default",
			Rule:   "the report's overall advice: supported when it recommends RabbitMQ, contradicted when it recommends another broker",
			Decide: recommended(rabbitmq)},
		{Text: "Kafka or RocketMQ for big data",
			Rule:   "capacity and backlog: supported when the broker with the highest maximum sustainable rate and the broker that catches up with a backlog fastest are each Kafka or RocketMQ; contradicted when another broker is ahead of both of them on either",
			Decide: bigData},
	}
}

// figure is one figure a claim compares across brokers.
type figure struct {
	scenario, label string
	higherIsBetter  bool
	read            func(r *result.Result) (float64, bool)
}

// metric reads a result metric.
func metric(name string) func(r *result.Result) (float64, bool) {
	return func(r *result.Result) (float64, bool) { m, ok := r.Metrics[name]; return m.Value, ok }
}

// headline reads a scenario's headline figure.
func headline(p present.Presenter) func(r *result.Result) (float64, bool) {
	return func(r *result.Result) (float64, bool) { f := p.Headline(r); return f.Value, f.Ok }
}

// measured is one broker's figure over the repeats of its cell.
type measured struct {
	broker string
	sum    stats.Summary
}

// read returns every broker's summary of f, in broker name order, leaving
// out brokers without the figure.
func (f figure) readAll(ev present.Evidence) []measured {
	var out []measured
	for b, g := range ev.Cells[f.scenario] {
		var vs []float64
		for _, r := range g {
			if v, ok := f.read(r); ok {
				vs = append(vs, v)
			}
		}
		if s := stats.Summarize(vs); s.N > 0 {
			out = append(out, measured{b, s})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].broker < out[j].broker })
	return out
}

// better says a is better than b on f beyond both intervals.
func (f figure) better(a, b stats.Summary) bool {
	if a.Overlaps(b) {
		return false
	}
	if f.higherIsBetter {
		return a.Median > b.Median
	}
	return a.Median < b.Median
}

// describe renders f's figures: "capacity max sustainable msg/s: kafka
// 19125, rabbitmq 7404 [7000–7600], 75% CI of 3 runs".
func (f figure) describe(ms []measured) string {
	var parts []string
	for _, m := range ms {
		s := m.broker + " " + short(m.sum.Median)
		if iv := m.sum.Interval(short); iv != "" {
			s += " " + iv
		}
		parts = append(parts, s)
	}
	return f.scenario + " " + f.label + ": " + strings.Join(parts, "; ")
}

// short renders a figure: whole numbers from 1000 up, else 4 significant
// digits.
func short(v float64) string {
	if math.Abs(v) >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

// split finds broker b among ms and returns its figure and the others'.
func split(ms []measured, b string) (stats.Summary, []measured, bool) {
	var others []measured
	var own stats.Summary
	found := false
	for _, m := range ms {
		if m.broker == b {
			own, found = m.sum, true
		} else {
			others = append(others, m)
		}
	}
	return own, others, found && len(others) > 0
}

// notMeasured is the decision when f lacks b or every other broker.
func notMeasured(f figure, b string, ms []measured) present.Decision {
	why := fmt.Sprintf("%s: no complete %s result of %s and another broker with this figure", f.scenario, f.label, b)
	if len(ms) > 0 {
		return present.Decision{Verdict: present.NotMeasured, Figures: []string{why, f.describe(ms)}}
	}
	return present.Decision{Verdict: present.NotMeasured, Figures: []string{why}}
}

// rank counts the others b beats and is beaten by on f.
func rank(f figure, own stats.Summary, others []measured) (beats, beaten int) {
	for _, o := range others {
		if f.better(own, o.sum) {
			beats++
		}
		if f.better(o.sum, own) {
			beaten++
		}
	}
	return beats, beaten
}

// bestOn: supported when b is better than every other broker on f,
// contradicted when any other is better than b.
func bestOn(b string, f figure) func(present.Evidence) present.Decision {
	return func(ev present.Evidence) present.Decision {
		ms := f.readAll(ev)
		own, others, ok := split(ms, b)
		if !ok {
			return notMeasured(f, b, ms)
		}
		beats, beaten := rank(f, own, others)
		return decide(beats == len(others), beaten > 0, f.describe(ms))
	}
}

// worstOn: supported when every other broker is better than b on f,
// contradicted when b is better than any other.
func worstOn(b string, f figure) func(present.Evidence) present.Decision {
	return func(ev present.Evidence) present.Decision {
		ms := f.readAll(ev)
		own, others, ok := split(ms, b)
		if !ok {
			return notMeasured(f, b, ms)
		}
		beats, beaten := rank(f, own, others)
		return decide(beaten == len(others), beats > 0, f.describe(ms))
	}
}

// upperHalf: supported when b is better than at least half of the other
// brokers on f, contradicted when at least half are better than b.
func upperHalf(b string, f figure) func(present.Evidence) present.Decision {
	return func(ev present.Evidence) present.Decision {
		ms := f.readAll(ev)
		own, others, ok := split(ms, b)
		if !ok {
			return notMeasured(f, b, ms)
		}
		beats, beaten := rank(f, own, others)
		half := (len(others) + 1) / 2
		return decide(beats >= half, beaten >= half, f.describe(ms))
	}
}

// worstOnEither: supported when b is the worst broker on f or on g,
// contradicted when on each of them some other broker is worse than b.
func worstOnEither(b string, f, g figure) func(present.Evidence) present.Decision {
	return func(ev present.Evidence) present.Decision {
		var figs []string
		var worst, notWorst, measuredAny int
		for _, x := range []figure{f, g} {
			ms := x.readAll(ev)
			own, others, ok := split(ms, b)
			if !ok {
				continue
			}
			measuredAny++
			figs = append(figs, x.describe(ms))
			beats, beaten := rank(x, own, others)
			if beaten == len(others) {
				worst++
			}
			if beats > 0 {
				notWorst++
			}
		}
		if measuredAny == 0 {
			return notMeasured(f, b, nil)
		}
		return decide(worst > 0, worst == 0 && notWorst == measuredAny && measuredAny == 2, figs...)
	}
}

// decide turns the two outcomes of a rule into a verdict: supported wins
// when both hold (a rule is written so that they cannot), and neither is
// Undecided.
func decide(supported, contradicted bool, figures ...string) present.Decision {
	d := present.Decision{Verdict: present.Undecided, Figures: figures}
	switch {
	case supported:
		d.Verdict = present.Supported
	case contradicted:
		d.Verdict = present.Contradicted
	}
	return d
}

// tally is one broker's accounting over runs. Duplicates of a run that
// crashes its consumers on purpose (the transaction scenario's
// consumer_crashes) are kept apart as redelivered: a broker delivering
// again what a crashed consumer never acknowledged is at-least-once
// delivery doing its job, not a fault of the broker, and the run cannot
// tell those from any other duplicate.
type tally struct {
	runs, failed int
	lost, dup    int64
	redelivered  int64 // duplicates of runs that crash consumers
	crashes      int64 // consumer crashes injected in those runs
}

// add counts run r.
func (t *tally) add(r *result.Result) {
	t.runs++
	if !r.Verdict.Pass {
		t.failed++
	}
	t.lost += r.Accounting.Lost
	if m, ok := r.Metrics[transaction.MetricConsumerCrashes]; ok && m.Value > 0 {
		t.crashes += int64(m.Value)
		t.redelivered += r.Accounting.Duplicated
		return
	}
	t.dup += r.Accounting.Duplicated
}

// clean reports whether nothing was lost and nothing duplicated outside
// the redeliveries after injected consumer crashes.
func (t tally) clean() bool { return t.lost == 0 && t.dup == 0 }

// String gives the tally as a deciding figure.
func (t tally) String() string {
	s := fmt.Sprintf("lost %d, duplicated %d", t.lost, t.dup)
	if t.crashes > 0 {
		s += fmt.Sprintf(" (besides %d redelivered after the %d consumer crashes the scenarios inject, not counted)", t.redelivered, t.crashes)
	}
	return s
}

// accounting tallies b's complete runs of every scenario.
func accounting(ev present.Evidence, b string) tally {
	var t tally
	for _, byBroker := range ev.Cells {
		for _, r := range byBroker[b] {
			t.add(r)
		}
	}
	return t
}

// reliabilityFirst decides RabbitMQ's "reliability first, throughput
// second".
func reliabilityFirst(ev present.Evidence) present.Decision {
	t := accounting(ev, rabbitmq)
	ms := capacityMax.readAll(ev)
	own, others, ok := split(ms, rabbitmq)
	if t.runs == 0 || !ok {
		return notMeasured(capacityMax, rabbitmq, ms)
	}
	acc := fmt.Sprintf("rabbitmq over %d complete runs: %s", t.runs, t)
	beats, beaten := rank(capacityMax, own, others)
	return decide(t.clean() && beaten > 0, !t.clean() || beats == len(others), acc, capacityMax.describe(ms))
}

// transactionsOptimised decides RocketMQ's "reliable delivery, with
// transactions optimised".
func transactionsOptimised(ev present.Evidence) present.Decision {
	ms := txP99.readAll(ev)
	own, others, ok := split(ms, rocketmq)
	if !ok {
		return notMeasured(txP99, rocketmq, ms)
	}
	var t tally
	for _, r := range ev.Cells[txP99.scenario][rocketmq] {
		t.add(r)
	}
	acc := fmt.Sprintf("rocketmq transaction over %d runs: %d failed, %s", t.runs, t.failed, t)
	beats, beaten := rank(txP99, own, others)
	clean := t.failed == 0 && t.clean()
	return decide(clean && beats == len(others), !clean || beaten > 0, acc, txP99.describe(ms))
}

// recommended decides "<b> by default" from the overall advice.
func recommended(b string) func(present.Evidence) present.Decision {
	return func(ev present.Evidence) present.Decision {
		has := false
		for _, byBroker := range ev.Cells {
			has = has || len(byBroker[b]) > 0
		}
		if ev.Recommended == "" || !has {
			return present.Decision{Verdict: present.NotMeasured, Figures: []string{"the overall advice recommends no broker, or " + b + " did not run"}}
		}
		figs := []string{"the overall advice recommends " + ev.Recommended}
		if ev.Advice != "" {
			figs = append(figs, ev.Advice)
		}
		return decide(ev.Recommended == b, ev.Recommended != b, figs...)
	}
}

// bigData decides "Kafka or RocketMQ for big data".
func bigData(ev present.Evidence) present.Decision {
	big := []string{kafka, rocketmq}
	var figs []string
	support, against := 0, 0
	for _, f := range []figure{capacityMax, catchUp} {
		ms := f.readAll(ev)
		var bigs, rest []measured
		for _, m := range ms {
			if slices.Contains(big, m.broker) {
				bigs = append(bigs, m)
			} else {
				rest = append(rest, m)
			}
		}
		if len(bigs) == 0 || len(rest) == 0 {
			return notMeasured(f, "kafka or rocketmq", ms)
		}
		figs = append(figs, f.describe(ms))
		// Supported on f: some big-data broker beats every other broker.
		if slices.ContainsFunc(bigs, func(a measured) bool {
			return !slices.ContainsFunc(ms, func(o measured) bool { return o.broker != a.broker && !f.better(a.sum, o.sum) })
		}) {
			support++
		}
		// Against on f: some other broker beats every big-data broker.
		if slices.ContainsFunc(rest, func(o measured) bool {
			return !slices.ContainsFunc(bigs, func(a measured) bool { return !f.better(o.sum, a.sum) })
		}) {
			against++
		}
	}
	return decide(support == 2, against > 0, figs...)
}

// onlyIf reads a figure from the results keep accepts.
func onlyIf(keep func(*result.Result) bool, read func(*result.Result) (float64, bool)) func(*result.Result) (float64, bool) {
	return func(r *result.Result) (float64, bool) {
		if !keep(r) {
			return 0, false
		}
		return read(r)
	}
}

// killedDurable accepts a failover run that killed a node (kill mode, at
// least one fault) in the durable profile, where the scenario's verdict
// holds a lost confirmed message against the broker; the checker's
// negative control, which must show no failover, is no evidence about the
// broker.
func killedDurable(r *result.Result) bool {
	if r.Profile != driver.Durable && r.Profile != "" {
		return false
	}
	if flag(r, failover.MetricRolling) || flag(r, failover.MetricControl) {
		return false
	}
	f, ok := r.Metrics[failover.MetricFaults]
	return ok && f.Value > 0
}

// flag reads a boolean metric: true only when present and 1.
func flag(r *result.Result, name string) bool {
	m, ok := r.Metrics[name]
	return ok && m.Value == 1
}

// highAvailability decides RocketMQ's "high availability" on its
// kill-mode failover runs in the durable profile: the absolute part (it
// failed over and lost nothing) and the relative part (its producers were
// not unavailable longer than every other broker's).
func highAvailability(ev present.Evidence) present.Decision {
	var runs []*result.Result
	for _, r := range ev.Cells[prodUnavail.scenario][rocketmq] {
		if killedDurable(r) {
			runs = append(runs, r)
		}
	}
	if len(runs) == 0 {
		return present.Decision{Verdict: present.NotMeasured, Figures: []string{
			"failover: no kill-mode failover result of rocketmq in the durable profile (the failover scenario runs only with --topology cluster)"}}
	}
	var lost int64
	failed, noFailover := 0, 0
	for _, r := range runs {
		lost += r.Accounting.Lost
		if !r.Verdict.Pass {
			failed++
		}
		if flag(r, failover.MetricUntilRestart) || !flag(r, failover.MetricProducerRecovered) || !flag(r, failover.MetricConsumerRecovered) {
			noFailover++
		}
	}
	figs := []string{fmt.Sprintf("rocketmq failover over %d runs: %d failed, lost %d, %d without failover", len(runs), failed, lost, noFailover)}
	ms := prodUnavail.readAll(ev)
	worst := false
	if own, others, ok := split(ms, rocketmq); ok {
		_, beaten := rank(prodUnavail, own, others)
		worst = beaten == len(others)
		figs = append(figs, prodUnavail.describe(ms))
	} else {
		figs = append(figs, "no other broker ran failover: decided on rocketmq's own runs")
	}
	clean := failed == 0 && lost == 0 && noFailover == 0
	return decide(clean && !worst, lost > 0 || noFailover > 0 || worst, figs...)
}
