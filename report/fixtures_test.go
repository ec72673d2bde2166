package report

import (
	"encoding/base64"
	"fmt"
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

// fixtureLatency builds a deterministic latency with a real histogram: n
// values spread geometrically from lo to hi ms.
func fixtureLatency(n int, loMs, hiMs float64) *result.Latency {
	h := hdrhistogram.New(1000, int64(10*time.Minute), 3)
	for i := 0; i < n; i++ {
		f := float64(i) / float64(n-1)
		v := loMs * pow(hiMs/loMs, f*f*f) // most values low, a tail up to hi
		_ = h.RecordValue(int64(v * 1e6))
	}
	b, _ := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e6 }
	return &result.Latency{Count: h.TotalCount(), P50: ms(50), P90: ms(90), P99: ms(99), P999: ms(99.9),
		Max: float64(h.Max()) / 1e6, Mean: h.Mean() / 1e6, Unit: "ms", Corrected: true,
		Histogram: base64.StdEncoding.EncodeToString(b)}
}

func pow(a, b float64) float64 { return math.Pow(a, b) }

// catalogNames are the names of the scenario table, in its order.
func catalogNames() []string {
	var out []string
	for _, s := range catalog.All() {
		out = append(out, s.Name())
	}
	return out
}

// goldenScenarios are the scenarios fixtures has results for: the golden
// reports stay as they are when the table grows (robust_test covers every
// scenario of the table).
var goldenScenarios = []string{"pubsub", "async", "decoupling", "peakshaving", "transaction"}

// presenterFor returns the presentation of the table's scenario name.
func presenterFor(name string) present.Presenter {
	s, err := catalog.Find(name)
	if err != nil {
		return nil
	}
	return present.Of(s)
}

// fixtures returns results for four brokers × five scenarios with fixed
// numbers (one failing cell, one missing), for golden and browser tests.
func fixtures() []*result.Result {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	brokers := []struct {
		name, title, version, client string
		lat                          float64
		caps                         driver.Capabilities
	}{
		{"activemq", "ActiveMQ Classic", "5.17.2", "github.com/go-stomp/stomp/v3", 2.0, driver.Capabilities{Nack: true, CompetingConsumers: true, FanOut: true, Persistent: true}},
		{"kafka", "Kafka", "4.1.1", "github.com/segmentio/kafka-go", 4.0, driver.Capabilities{PerKeyOrder: true, CompetingConsumers: true, FanOut: true, Replay: true, Persistent: true}},
		{"rabbitmq", "RabbitMQ", "3.10.8", "github.com/rabbitmq/amqp091-go", 1.0, driver.Capabilities{Nack: true, RedeliveryFlag: true, CompetingConsumers: true, FanOut: true, Persistent: true, MaxLengthReject: true}},
		{"rocketmq", "", "5.3.3", "github.com/apache/rocketmq-client-go/v2", 3.0, driver.Capabilities{Nack: true, PerKeyOrder: true, CompetingConsumers: true, FanOut: true, Persistent: true, NativeTransaction: true}},
	}
	var out []*result.Result
	for bi, b := range brokers {
		for si, s := range goldenScenarios {
			if b.name == "activemq" && s == "transaction" {
				continue // a missing cell
			}
			start := t0.Add(time.Duration(bi*5+si) * time.Minute)
			r := &result.Result{
				SchemaVersion: result.SchemaVersion, ID: fmt.Sprintf("fixture-%s-%s", b.name, s),
				StartedAt: start, FinishedAt: start.Add(30 * time.Second),
				Broker:   result.Broker{Name: b.name, Title: b.title, Client: b.client, ClientVersion: "v1.0.0", Protocol: "proto", Version: b.version, Capabilities: b.caps},
				Scenario: s, Profile: driver.Durable, Config: map[string]any{"rate": 1000, "duration": "10s"},
				Environment: result.Environment{Host: "fixture-host", CPUs: 2, OS: "linux", Arch: "amd64", Go: "go1.26.8", MemMiB: 24105},
				Latency: result.Latencies{
					"end_to_end": fixtureLatency(2000, b.lat/2, b.lat*20),
					"publish":    fixtureLatency(2000, b.lat/3, b.lat*10),
				},
				Throughput: result.Throughput{SentPerS: 1000, ReceivedPerS: 1000 - float64(bi*10), MBPerS: 1.02},
				Accounting: result.Accounting{Sent: 10000, Confirmed: 10000, Received: 10000, Deliveries: 10000 + int64(bi), Duplicated: int64(bi), Groups: 1, Complete: true},
				Cost:       &result.Cost{CPUSeconds: 5 + float64(bi), PeakRSSMiB: 300 + 50*float64(bi), PIDs: []int{100 + bi}},
				Verdict:    result.Verdict{Pass: true},
				Status:     result.StatusComplete,
			}
			for sec := 0; sec < 10; sec++ {
				r.Timeline = append(r.Timeline, result.Second{T: sec, Sent: 1000, Confirmed: 1000, Received: int64(1000 - bi*10), Backlog: int64(bi * sec)})
			}
			switch s {
			case "async":
				r.SetMetric("response_p50_ms_serial", 102+b.lat, "ms")
				r.SetMetric("response_p50_ms_parallel", 52+b.lat, "ms")
				r.SetMetric("response_p50_ms_mq", 1+b.lat, "ms")
				r.SetMetric("response_p99_ms_serial", 110+b.lat, "ms")
				r.SetMetric("response_p99_ms_parallel", 60+b.lat, "ms")
				r.SetMetric("response_p99_ms_mq", 5+b.lat, "ms")
			case "decoupling":
				r.SetMetric("orders_lost_mq", 0, "count")
				r.SetMetric("e2e_p99_ms", 3000+100*b.lat, "ms")
				r.Series = map[string][]float64{"inventory_up": {1, 1, 1, 0, 0, 0, 1, 1, 1, 1}}
			case "peakshaving":
				r.SetMetric("oversold", 0, "count")
				r.SetMetric("accept_p99_ms", 3*b.lat, "ms")
				r.Series = map[string][]float64{
					"input_per_s":     {9000, 1000, 0, 0, 0},
					"processed_per_s": {200, 200, 0, 0, 0},
					"queue_depth":     {200, 10, 0, 0, 0},
					"threshold":       {200, 200, 200, 200, 200},
				}
				if b.name == "kafka" {
					r.Verdict = result.Verdict{Pass: false, Violations: []string{"oversold 1"}}
					r.SetMetric("oversold", 1, "count")
				}
			case "transaction":
				r.SetMetric("ttc_p99_ms", 150+10*b.lat, "ms")
				r.Notes = []string{"resends carry new envelope sequences"}
			}
			out = append(out, r)
		}
	}
	return out
}

// capacityFixtures returns capacity results for the four brokers with
// fixed, made-up numbers: a maximum found after a climb by 1.5 from a
// quarter of the publish-only rate, one failed step above it, and the
// curve steps (rocketmq's 10% point skipped, as a spent budget leaves it).
func capacityFixtures() []*result.Result {
	t0 := time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	brokers := []struct {
		name                        string
		top, failed, publish, drain float64
		p99                         [4]float64 // e2e p99 at 10, 50, 80, 100%
	}{
		{"activemq", 3000, 3200, 4100, 6500, [4]float64{3.1, 4.5, 9.8, 38}},
		{"kafka", 40000, 42000, 52000, 90000, [4]float64{6.2, 7.9, 12, 44}},
		{"rabbitmq", 12000, 12600, 15000, 30000, [4]float64{1.8, 2.6, 5.5, 29}},
		{"rocketmq", 20000, 21000, 26000, 41000, [4]float64{0, 5.1, 8.4, 47}},
	}
	var out []*result.Result
	for bi, b := range brokers {
		start := t0.Add(time.Duration(bi) * 2 * time.Minute)
		r := &result.Result{
			SchemaVersion: result.SchemaVersion, ID: "fixture-" + b.name + "-capacity", StartedAt: start, FinishedAt: start.Add(95 * time.Second),
			Broker:   result.Broker{Name: b.name, Client: "fixture-client", ClientVersion: "v1.0.0", Protocol: "proto", Version: "1.0"},
			Scenario: "capacity", Profile: driver.Durable, Config: map[string]any{"latency_objective": "50ms", "budget": "1m20s", "size": 1024},
			Environment: result.Environment{Host: "fixture-host", CPUs: 2, OS: "linux", Arch: "amd64", Go: "go1.26.8", MemMiB: 24105},
			Latency: result.Latencies{
				"end_to_end": fixtureLatency(2000, b.p99[3]/20, b.p99[3]*1.2),
				"publish":    fixtureLatency(2000, b.p99[3]/40, b.p99[3]/2),
			},
			Throughput: result.Throughput{SentPerS: b.top, ReceivedPerS: b.top, MBPerS: b.top * 1024 / 1e6},
			Accounting: result.Accounting{Sent: 400000, Confirmed: 400000, Received: 400000, Deliveries: 400000, Groups: 1, Complete: true},
			Cost:       &result.Cost{CPUSeconds: 40 + 5*float64(bi), PeakRSSMiB: 400, PIDs: []int{200 + bi}},
			Verdict:    result.Verdict{Pass: true}, Status: result.StatusComplete,
			Notes: []string{"fixture: made-up numbers"},
		}
		for sec := 0; sec < 10; sec++ {
			r.Timeline = append(r.Timeline, result.Second{T: sec, Sent: int64(b.top), Confirmed: int64(b.top), Received: int64(b.top)})
		}
		capacitySteps(r, b.top, b.failed, b.publish, b.p99)
		for n, v := range map[string]float64{"max_sustainable_msgs": b.top, "failed_above_msgs": b.failed,
			"publish_only_msgs": b.publish, "drain_only_msgs": b.drain, "harness_ceiling_msgs": 180000} {
			r.SetMetric(n, v, "msg/s")
		}
		for n, v := range map[string]float64{"latency_objective_ms": 50, "harness_floor_e2e_p99_ms": 2.5, "harness_floor_publish_p99_ms": 1.5} {
			r.SetMetric(n, v, "ms")
		}
		for i, pct := range []int{10, 50, 80, 100} {
			if b.p99[i] == 0 {
				continue // skipped
			}
			r.SetMetric(fmt.Sprintf("curve_rate_msgs_%d", pct), b.top*float64(pct)/100, "msg/s")
			r.SetMetric(fmt.Sprintf("curve_e2e_p99_ms_%d", pct), b.p99[i], "ms")
			r.SetMetric(fmt.Sprintf("curve_publish_p99_ms_%d", pct), b.p99[i]/2, "ms")
			r.SetMetric(fmt.Sprintf("curve_sustained_%d", pct), 1, "bool")
		}
		out = append(out, r)
	}
	return out
}

// capacitySteps fills r's step series and step counts: search steps from
// a quarter of the publish-only rate up by 1.5 below top, the failed
// step, top itself, then the curve steps of p99 (0: skipped).
func capacitySteps(r *result.Result, top, failed, publish float64, p99 [4]float64) {
	type step struct{ rate, received, p99, sustained, curve float64 }
	var steps []step
	for rate := math.Round(publish / 4); rate < top; rate = math.Round(rate * 1.5) {
		steps = append(steps, step{rate, rate, p99[0] + 1, 1, 0})
	}
	steps = append(steps, step{failed, 0.9 * failed, 180, 0, 0}, step{top, top, p99[3], 1, 0})
	search := len(steps)
	for i, pct := range []float64{10, 50, 80} {
		if p99[i] != 0 {
			steps = append(steps, step{top * pct / 100, top * pct / 100, p99[i], 1, 1})
		}
	}
	r.Series = map[string][]float64{}
	add := func(k string, v float64) { r.Series[k] = append(r.Series[k], v) }
	for i, s := range steps {
		add("step_start_s", float64(8*i+6))
		add("step_rate", s.rate)
		add("step_received", s.received)
		add("step_p99_ms", s.p99/2)
		add("step_e2e_p99_ms", s.p99)
		add("step_schedule_p99_ms", 0.2)
		add("step_backlog_growth", (1-s.sustained)*0.1*s.rate)
		add("step_missing", 0)
		add("step_sustained", s.sustained)
		add("step_curve", s.curve)
	}
	r.SetMetric("steps", float64(len(steps)), "count")
	r.SetMetric("search_steps", float64(search), "count")
}
