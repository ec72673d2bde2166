package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

// extraScenario scores by two further criteria read from metrics "held"
// (lower is better, under latency) and "kept" (higher is better, under
// throughput), and states one finding per result.
type extraScenario struct{}

func (extraScenario) Name() string { return "extra" }

func (extraScenario) Headline(r *result.Result) present.Figure {
	return present.Metric(r, "kept", "kept", "%")
}

func (extraScenario) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{Extra: []present.Criterion{
		{Figure: present.Metric(r, "held", "held", "s"), LowerIsBetter: true, Weight: "latency"},
		{Figure: present.Metric(r, "kept", "kept", "%"), Weight: "throughput"},
		{Figure: present.Metric(r, "kept", "latency", "%"), Weight: "throughput"}, // names a fixed criterion: ignored
		{Figure: present.Metric(r, "kept", "unweighted", "%"), Weight: "speed"},   // unknown weight: ignored
	}}
}

func (extraScenario) Charts() []present.Chart { return nil }

func (extraScenario) Accept(*result.Result, driver.Capabilities) error { return nil }

func (extraScenario) Findings(r *result.Result) []string {
	if m, ok := r.Metrics["held"]; ok && m.Value > 0 {
		return []string{"publishers held " + num(m.Value) + " s"}
	}
	return nil
}

func extraResult(broker string, metrics map[string]float64) *result.Result {
	r := &result.Result{Scenario: "extra", Broker: result.Broker{Name: broker}, Status: result.StatusComplete,
		Verdict: result.Verdict{Pass: true}}
	for k, v := range metrics {
		r.SetMetric(k, v, "")
	}
	return r
}

func TestAdviceExtraCriteria(t *testing.T) {
	rs := []*result.Result{
		extraResult("a", map[string]float64{"held": 0, "kept": 50}),
		extraResult("b", map[string]float64{"held": 10, "kept": 100}),
		extraResult("c", map[string]float64{"held": 5}),
		extraResult("d", map[string]float64{"held": math.NaN(), "kept": -1}),
	}
	adv := Advise("extra", extraScenario{}, rs, []string{"a", "b", "c", "d"}, Weights{Latency: 1, Throughput: 1})
	if want := []string{"held", "kept"}; strings.Join(adv.Extra, ",") != strings.Join(want, ",") {
		t.Fatalf("Extra %v, want %v", adv.Extra, want)
	}
	want := map[string]map[string]float64{ // broker → criterion → score; absent: not scored
		"a": {"held": 1, "kept": 0.5},
		"b": {"held": 0, "kept": 1},
		"c": {"held": 0.5},
		"d": {},
	}
	for _, rk := range adv.Ranking {
		for _, c := range []string{"held", "kept", "latency", "throughput", "unweighted"} {
			got, ok := rk.Parts[c]
			w, wok := want[rk.Broker][c]
			if ok != wok || math.Abs(got.Score-w) > 1e-9 {
				t.Errorf("%s %s: part %+v (scored %v), want %v (scored %v)", rk.Broker, c, got, ok, w, wok)
			}
		}
	}
	// a: (1 + 0.5)/2, b: (0 + 1)/2, c: 0.5/1 (not scored on kept).
	if adv.Ranking[0].Broker != "a" || math.Abs(adv.Ranking[0].Score-0.75) > 1e-9 {
		t.Errorf("ranking %+v, want a first with 0.75", adv.Ranking)
	}
	if !strings.Contains(adv.Reason, "held (0 s vs") {
		t.Errorf("reason %q does not name the deciding extra criterion", adv.Reason)
	}
	if a := Advise("extra", extraScenario{}, rs, nil, Weights{Throughput: 1}); a.Ranking[0].Broker != "b" {
		t.Errorf("by throughput alone the winner is %s, want b (kept 100)", a.Ranking[0].Broker)
	}
	// All held 0: every broker scores 1 on it.
	zero := []*result.Result{extraResult("a", map[string]float64{"held": 0}), extraResult("b", map[string]float64{"held": 0})}
	for _, rk := range Advise("extra", extraScenario{}, zero, nil, DefaultWeights()).Ranking {
		if rk.Parts["held"].Score != 1 {
			t.Errorf("%s held 0 of 0 scores %v, want 1", rk.Broker, rk.Parts["held"].Score)
		}
	}
}

func TestRenderFindingsAndExtraColumns(t *testing.T) {
	rs := []*result.Result{
		extraResult("a", map[string]float64{"held": 0, "kept": 50}),
		extraResult("b", map[string]float64{"held": 12.4, "kept": 100}),
	}
	var buf bytes.Buffer
	if err := Render(&buf, rs, Options{Scenarios: []present.Named{extraScenario{}}}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"<h3>Findings</h3>", "<li>b: publishers held 12.4 s</li>", "<th>held</th><th>kept</th>", "1.00 · 0 s"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "a: publishers held") {
		t.Error("a finding for a broker that was not held")
	}
}

// TestRenderTableScenariosWithFindings renders backlog and scale results
// through the scenario table: the matrix shows their headlines, the advice
// their further criterion, and their sections their findings.
func TestRenderTableScenariosWithFindings(t *testing.T) {
	var rs []*result.Result
	for i, b := range []string{"kafka", "rabbitmq"} {
		bl := extraResult(b, map[string]float64{"backlog_messages": 1000, "drain_rate": 5000 - 1000*float64(i), "drain_s": 2,
			"remaining": 0, "slowed_s": 0, "stalled_sends": 0})
		bl.Scenario = "backlog"
		if b == "rabbitmq" {
			bl.SetMetric("blocked_s", 12.4, "s")
			bl.SetMetric("blocked_accumulate_s", 12.4, "s")
			bl.SetMetric("block_events", 1, "count")
		}
		sc := extraResult(b, map[string]float64{"dest1_ok": 1, "dest1_received_per_s": 1000, "dest100_ok": 1, "dest100_received_per_s": 900 + 100*float64(i),
			"dest1000_ok": float64(i), "steps": 3})
		sc.Scenario = "scale"
		if i == 0 {
			sc.Notes = []string{"step dest1000 (1000 destinations, one producer and one consumer each) could not run: too many open files"}
		}
		rs = append(rs, bl, sc)
	}
	var buf bytes.Buffer
	if err := Render(&buf, rs, Options{Scenarios: catalog.Presentations()}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"drain 5000 msg/s", "kept at 100 destinations 90 %", "kept at 100 destinations 100 %",
		"<th>producer blocking</th>", "1.00 · 0 s", "0.00 · 12.4 s",
		"<li>rabbitmq: publishers blocked 12.4 s by the broker (12.4 s while accumulating)</li>",
		"<li>kafka: step dest1000 could not run on this machine: too many open files</li>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
