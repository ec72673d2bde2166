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
	"github.com/mqbench/mqbench/claims"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

// repeatFixtures returns three repeats of every capacity and transaction
// cell of the fixtures, with the figures moved by a few percent per
// repeat, an idle baseline on every cost and the durability read back.
func repeatFixtures() []*result.Result {
	var out []*result.Result
	base := append(capacityFixtures(), fixtures()...)
	for k := 1; k <= 3; k++ {
		f := 1 + 0.03*float64(k-2) // 0.97, 1, 1.03
		for _, r0 := range base {
			if r0.Scenario != "capacity" && r0.Scenario != "transaction" {
				continue
			}
			r := *r0
			r.ID = fmt.Sprintf("%s-r%d", r0.ID, k)
			r.StartedAt = r0.StartedAt.Add(time_(k))
			r.Repeat = &result.Repeat{Set: "fixture-set", Index: k, Of: 3}
			r.Metrics = map[string]result.Metric{}
			for n, m := range r0.Metrics {
				m.Value *= f
				r.Metrics[n] = m
			}
			cost := *r0.Cost
			cost.Seconds = 20
			cost.Idle = &result.Idle{WindowS: 1, CPUPerS: []float64{0.02, 0.03 * f, 0.04}}
			cost.WarmUp = "a discarded warm-up load (fixture)"
			r.Cost = &cost
			r.Broker.Durability = &driver.Durability{Promise: "synced before the confirm (fixture)", Synced: true, Replicas: 1,
				Settings: map[string]string{"sync": "yes"}, Source: "fixture read-back", Verified: r.Broker.Name != "activemq"}
			r.Notes = append([]string{"every broker carries this note"}, r0.Notes...)
			out = append(out, &r)
		}
	}
	return out
}

// time_ spaces repeats an hour apart, after every single-run fixture.
func time_(k int) time.Duration { return time.Duration(k) * time.Hour }

func TestRenderRepeatsGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, repeatFixtures(), Options{Title: "fixture repeats", Scenarios: catalog.Presentations(), Claims: claims.Table()}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "repeats.golden.html")
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
	page := buf.String()
	for _, want := range []string{
		`id="conditions"`, "3 runs of every cell", "75% CI of 3 runs", "net of an idle baseline", "a discarded warm-up load (fixture)",
		"synced before the confirm (fixture)", "What the common wisdom says, and what this run measured",
		"not measured in this run", `<details class="detail" id="s-capacity">`,
		// Shown once in the conditions for the brokers that ran both
		// scenarios, in its section for activemq, which ran one.
		"<li>kafka, rabbitmq, rocketmq: every broker carries this note</li>", "<li>activemq: every broker carries this note</li>",
		"<li>every broker: fixture: made-up numbers</li>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "every broker carries this note"); n != 2 {
		t.Errorf("the note every run carries appears %d times, want 2 (conditions, and activemq's section)", n)
	}
	if strings.Index(page, `id="matrix"`) > strings.Index(page, `id="detail"`) {
		t.Error("the summary table is not before the detail")
	}
}

// repeated builds the repeats of one pubsub cell of broker with the given
// end-to-end p99 per repeat and cost (CPU seconds over 20 s, idle rates).
func repeated(broker string, p99s []float64, cpu float64, idle []float64) []*result.Result {
	var g []*result.Result
	for i, p := range p99s {
		r := &result.Result{Scenario: "pubsub", Broker: result.Broker{Name: broker}, Status: result.StatusComplete,
			Verdict:    result.Verdict{Pass: true},
			Accounting: result.Accounting{Sent: 1000, Confirmed: 1000, Received: 1000, Deliveries: 1000, Groups: 1, Complete: true},
			Latency:    result.Latencies{"end_to_end": {Count: 1000, P99: p, Unit: "ms"}},
			Throughput: result.Throughput{ReceivedPerS: 100},
			Cost:       &result.Cost{CPUSeconds: cpu, Seconds: 20, Idle: &result.Idle{WindowS: 1, CPUPerS: idle}},
			Repeat:     &result.Repeat{Set: "s", Index: i + 1, Of: len(p99s)}}
		g = append(g, r)
	}
	return g
}

func TestAdviceRepeats(t *testing.T) {
	flat := []float64{0.1, 0.1, 0.1}
	tests := []struct {
		name   string
		a, b   []*result.Result
		w      Weights
		reason []string
	}{
		{"overlapping latency: tied, more repeats",
			repeated("a", []float64{9, 10, 12}, 3, flat), repeated("b", []float64{11, 13, 14}, 3, flat), Weights{Latency: 1},
			[]string{"tied", "more repeats are needed to separate them on latency", "75% CI of 3 runs"}},
		{"apart: decided",
			repeated("a", []float64{9, 10, 10.5}, 3, flat), repeated("b", []float64{20, 21, 22}, 3, flat), Weights{Latency: 1},
			[]string{"decided by latency"}},
		{"cost within the idle noise is not ranked",
			repeated("a", []float64{10, 10, 10}, 3, []float64{0.05, 0.1, 0.15}), repeated("b", []float64{10, 10, 10}, 3.5, []float64{0.05, 0.1, 0.15}), Weights{Cost: 1},
			[]string{"within the noise of a"}},
		{"cost beyond the idle noise decides",
			repeated("a", []float64{10, 10, 10}, 3, flat), repeated("b", []float64{10, 10, 10}, 9, flat), Weights{Cost: 1},
			[]string{"decided by cost"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adv := AdviseRepeats("pubsub", presenterFor("pubsub"), [][]*result.Result{tt.a, tt.b}, []string{"a", "b"}, tt.w)
			text := adv.Reason
			for _, rk := range adv.Ranking {
				for _, p := range rk.Parts {
					text += " | " + p.Figure
				}
			}
			for _, want := range tt.reason {
				if !strings.Contains(text, want) {
					t.Errorf("advice %q lacks %q", text, want)
				}
			}
			if tt.name == "cost within the idle noise is not ranked" {
				for _, rk := range adv.Ranking {
					if s := rk.Parts["cost"].Score; s != 1 {
						t.Errorf("%s cost score %g, want 1 (within the noise)", rk.Broker, s)
					}
				}
			}
		})
	}
}

func TestCellSamplesKeepsTheNewestSet(t *testing.T) {
	old := repeated("a", []float64{1, 2}, 1, nil)
	for _, r := range old {
		r.Repeat.Set = "old"
	}
	cur := repeated("a", []float64{5, 6, 7}, 1, nil)
	for i, r := range cur {
		r.StartedAt = r.StartedAt.Add(time_(i + 1))
	}
	single := &result.Result{Scenario: "async", Broker: result.Broker{Name: "a"}}
	cells := cellSamples(append(append(old, cur...), single))
	if g := cells["pubsub"]["a"]; len(g) != 3 || g[0].Latency["end_to_end"].P99 != 5 {
		t.Errorf("pubsub/a holds %d results, want the 3 of the newest set in repeat order", len(g))
	}
	if g := cells["async"]["a"]; len(g) != 1 {
		t.Errorf("a single run holds %d results", len(g))
	}
}
