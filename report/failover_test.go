package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

// failoverFixtures returns failover results of three brokers with fixed,
// made-up numbers: two fail over (one with duplicates), one waits for its
// killed node and loses messages (the verdict fails).
func failoverFixtures() []*result.Result {
	t0 := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)
	brokers := []struct {
		name             string
		prod, cons, back float64
		lost, dup        int64
		down             [2]int // seconds a node was down, [from, to)
		dip              int    // seconds of no delivery from the kill
	}{
		{"kafka", 2.1, 3.4, 6, 0, 120, [2]int{6, 21}, 3},
		{"rabbitmq", 4.8, 5.0, 8, 0, 0, [2]int{6, 21}, 5},
		{"rocketmq", 15.2, 15.9, 19, 37, 0, [2]int{6, 21}, 15},
	}
	var out []*result.Result
	for bi, b := range brokers {
		start := t0.Add(time.Duration(bi) * 2 * time.Minute)
		r := &result.Result{
			SchemaVersion: result.SchemaVersion, ID: "fixture-" + b.name + "-failover", StartedAt: start, FinishedAt: start.Add(time.Minute),
			Broker:   result.Broker{Name: b.name, Client: "fixture-client", ClientVersion: "v1.0.0", Protocol: "proto", Version: "1.0"},
			Scenario: "failover", Profile: driver.Durable, Config: map[string]any{"mode": "kill", "rate": 1000, "kill_at": "5s"},
			Environment: result.Environment{Host: "fixture-host", CPUs: 2, OS: "linux", Arch: "amd64", Go: "go1.26.8", MemMiB: 24105},
			Latency: result.Latencies{
				"end_to_end": fixtureLatency(30000, 3, 2000*b.cons),
				"publish":    fixtureLatency(30000, 2, 1000*b.prod),
			},
			Throughput: result.Throughput{SentPerS: 1000, ReceivedPerS: 990, MBPerS: 1.02},
			Accounting: result.Accounting{Sent: 31000, Confirmed: 30000, Unconfirmed: 1000, Received: 30000 - b.lost, Deliveries: 30000 - b.lost + b.dup,
				Lost: b.lost, Duplicated: b.dup, Groups: 1, Complete: b.lost == 0},
			Verdict: result.Verdict{Pass: true}, Status: result.StatusComplete,
			Series: map[string][]float64{},
			Notes:  []string{"fixture: made-up numbers"},
		}
		for sec := 0; sec < 32; sec++ {
			recv := int64(1000)
			switch {
			case sec >= 6 && sec < 6+b.dip:
				recv = 0
			case sec >= 6+b.dip && sec < 8+b.dip:
				recv = 1800 // catching up
			}
			r.Timeline = append(r.Timeline, result.Second{T: sec, Sent: 1000, Confirmed: 1000, Received: recv})
			down := 0.0
			if sec >= b.down[0] && sec < b.down[1] {
				down = 1000
			}
			r.Series["received_per_s"] = append(r.Series["received_per_s"], float64(recv))
			r.Series["target_per_s"] = append(r.Series["target_per_s"], 1000)
			r.Series["node_down"] = append(r.Series["node_down"], down)
		}
		for n, v := range map[string]float64{"producer_unavailable_s": b.prod, "consumer_unavailable_s": b.cons, "rate_back_s": b.back,
			"node_down_s": 15, "start_s": 4 + float64(bi), "in_sync_s": 9 + 2*float64(bi)} {
			r.SetMetric(n, v, "s")
		}
		for n, v := range map[string]float64{"publish_p99_before_ms": 5 + float64(bi), "publish_p99_during_ms": 1000 * b.prod, "publish_p99_after_ms": 7,
			"e2e_p99_before_ms": 9, "e2e_p99_during_ms": 1000 * b.cons, "e2e_p99_after_ms": 12 + float64(bi)} {
			r.SetMetric(n, v, "ms")
		}
		for n, v := range map[string]float64{"lost": float64(b.lost), "duplicated": float64(b.dup), "reordered": 0, "unconfirmed": 1000,
			"faults": 1, "send_failures": 40} {
			r.SetMetric(n, v, "count")
		}
		until := 0.0
		if b.lost > 0 {
			until = 1
			r.Verdict = result.Verdict{Pass: false, Violations: []string{fmt.Sprintf("%d confirmed messages lost in the durable profile", b.lost),
				"no failover: producers and consumers waited for the killed node to start again"}}
		}
		for n, v := range map[string]float64{"rolling": 0, "producer_recovered": 1, "consumer_recovered": 1, "rejoined": 1, "unavailable_until_restart": until} {
			r.SetMetric(n, v, "bool")
		}
		out = append(out, r)
	}
	return out
}

// TestRenderHighAvailabilityGolden renders the failover section (the
// unavailability windows, loss and duplicates, p99 before/during/after,
// the received rate with the node-down seconds marked, the availability
// criterion in the advice, the findings) against its golden file.
func TestRenderHighAvailabilityGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, failoverFixtures(), Options{Title: "fixture failover", Scenarios: catalog.Presentations()}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"failover: unavailability windows", "failover: loss and duplicates", "failover on kafka: received rate, node down marked",
		"<th>availability (longest unavailability)</th>", "<li>kafka: producers unavailable 2.1 s, consumers 3.4 s</li>",
		"<li>rocketmq: producers unavailable 15.2 s, consumers 15.9 s: no failover, they waited for the faulted node to start again</li>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	path := filepath.Join("testdata", "failover.golden.html")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("%s differs from the rendered report; if intended, run go test ./report -update and review the diff", path)
	}
}

// TestRenderNotMeasured: a single-node matrix's report says what it did
// not measure, from catalog.SplitTopology's sentences; without them it
// says nothing of the kind.
func TestRenderNotMeasured(t *testing.T) {
	_, not := catalog.SplitTopology(catalog.MatrixFor(true), false)
	var buf bytes.Buffer
	if err := Render(&buf, fixtures(), Options{Scenarios: catalog.Presentations(), NotMeasured: not}); err != nil {
		t.Fatal(err)
	}
	if want := "<li>failover: availability not measured: failover runs only on a cluster topology (--topology cluster)</li>"; !strings.Contains(buf.String(), want) {
		t.Errorf("page lacks %q", want)
	}
	buf.Reset()
	if err := Render(&buf, fixtures(), Options{Scenarios: catalog.Presentations()}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "availability not measured") {
		t.Error("a report without NotMeasured says something was not measured")
	}
}
