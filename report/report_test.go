package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name    string
		results []*result.Result
		opts    Options
		golden  string
	}{
		{"matrix", fixtures(), Options{Title: "fixture matrix", Scenarios: catalog.Presentations()}, "matrix.golden.html"},
		{"weighted", fixtures(), Options{Title: "latency first", Weights: Weights{Latency: 5, Reliability: 1}, Scenarios: catalog.Presentations()}, "weighted.golden.html"},
		{"compare", fixtures(), Options{Title: "comparison", Compare: fixtures(), Label: "run A", CompareLabel: "run B", Scenarios: catalog.Presentations()}, "compare.golden.html"},
		{"capacity", capacityFixtures(), Options{Title: "fixture capacity", Scenarios: catalog.Presentations()}, "capacity.golden.html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, tt.results, tt.opts); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
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
		})
	}
}

func TestRenderIsSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, fixtures(), Options{}); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, bad := range []string{"http://", "https://", "<script", "<link", "@import", "url("} {
		// The SVG namespace URIs are identifiers, not fetched.
		cleaned := strings.ReplaceAll(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), `xmlns:xlink="http://www.w3.org/1999/xlink"`, "")
		if strings.Contains(cleaned, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
}

func TestAdvice(t *testing.T) {
	rs := fixtures()
	var peak []*result.Result
	for _, r := range rs {
		if r.Scenario == "peakshaving" {
			peak = append(peak, r)
		}
	}
	brokers := []string{"activemq", "kafka", "rabbitmq", "rocketmq"}
	adv := Advise("peakshaving", presenterFor("peakshaving"), peak, brokers, DefaultWeights())
	if adv.Winner == "" || adv.Winner == "kafka" {
		t.Fatalf("winner %q: a failed cell must never be recommended", adv.Winner)
	}
	if last := adv.Ranking[len(adv.Ranking)-1]; last.Broker != "kafka" || last.Pass {
		t.Fatalf("failed broker ranks %+v, want last", last)
	}
	if !strings.Contains(adv.Reason, "decided by") {
		t.Fatalf("reason names no deciding figure: %s", adv.Reason)
	}
	// With only latency weighted, the lowest accept p99 wins: rabbitmq.
	lat := Advise("peakshaving", presenterFor("peakshaving"), peak, brokers, Weights{Latency: 1})
	if lat.Winner != "rabbitmq" {
		t.Fatalf("latency-only winner %q, want rabbitmq", lat.Winner)
	}
	var tx []*result.Result
	for _, r := range rs {
		if r.Scenario == "transaction" {
			tx = append(tx, r)
		}
	}
	if a := Advise("transaction", presenterFor("transaction"), tx, brokers, DefaultWeights()); len(a.Missing) != 1 || a.Missing[0] != "activemq" {
		t.Fatalf("missing %v, want [activemq]", a.Missing)
	}
	// No passing broker: no recommendation.
	failed := []*result.Result{{Broker: result.Broker{Name: "x"}, Scenario: "pubsub", Status: result.StatusComplete, Verdict: result.Verdict{Pass: false}}}
	if a := Advise("pubsub", presenterFor("pubsub"), failed, []string{"x"}, DefaultWeights()); a.Winner != "" {
		t.Fatalf("winner %q with no passing broker", a.Winner)
	}
}

func TestParseWeights(t *testing.T) {
	tests := []struct {
		in      string
		want    Weights
		wantErr string
	}{
		{"", DefaultWeights(), ""},
		{"latency=3,throughput=1,reliability=5", Weights{3, 1, 5, 1}, ""},
		{"cost=0", Weights{1, 1, 3, 0}, ""},
		{"speed=1", Weights{}, "unknown criterion"},
		{"latency=-1", Weights{}, "want a number from 0 to 1000"},
		{"latency", Weights{}, "not name=number"},
		{"latency=0,throughput=0,reliability=0,cost=0", Weights{}, "at least one"},
		{" latency = 2 , cost=1000", Weights{2, 1, 3, 1000}, ""},
		// Sums of huge weights overflowed to NaN scores.
		{"latency=1e308,throughput=1e308", Weights{}, "latency=1e308: want a number from 0 to 1000"},
		{"latency=1001", Weights{}, "want a number from 0 to 1000"},
		{"latency=Inf", Weights{}, "want a number from 0 to 1000"},
		{"latency=NaN", Weights{}, "want a number from 0 to 1000"},
		{"latency=1e400", Weights{}, "want a number from 0 to 1000"},
		// A weight given twice took the last value silently.
		{"latency=1,latency=5", Weights{}, "weights: latency is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseWeights(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestCompareFlagsOnlyRealDifferences(t *testing.T) {
	a := fixtures()
	same := Compare(a, fixtures())
	for _, d := range same {
		if d.Significant {
			t.Fatalf("identical runs flagged: %+v", d)
		}
	}
	b := fixtures()
	for _, r := range b {
		r.Latency["end_to_end"] = fixtureLatency(2000, 50, 500) // far slower
	}
	found := false
	for _, d := range Compare(a, b) {
		if d.Figure == "end_to_end p99" && d.Significant {
			found = true
		}
	}
	if !found {
		t.Fatal("a 10x slower end-to-end distribution was not flagged")
	}
}

func TestWriteAndRead(t *testing.T) {
	dir := t.TempDir()
	r := fixtures()[0]
	if err := result.Write(filepath.Join(dir, "x"), r); err != nil {
		t.Fatal(err)
	}
	got, err := result.LoadDir(dir)
	if err != nil || len(got) != 1 || got[0].ID != r.ID {
		t.Fatalf("LoadDir: %v %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x", "result.json"), []byte(`{"schema_version": 9}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := result.LoadDir(dir); err == nil || !strings.Contains(err.Error(), "schema_version 9") {
		t.Fatalf("err %v", err)
	}
}

func TestAdviceCaveatOnDifferentConfigs(t *testing.T) {
	var same, differ []*result.Result
	for _, r := range fixtures() {
		if r.Scenario == "pubsub" {
			same = append(same, r)
		}
	}
	brokers := []string{"activemq", "kafka", "rabbitmq", "rocketmq"}
	if a := Advise("pubsub", presenterFor("pubsub"), same, brokers, DefaultWeights()); a.Caveat != "" {
		t.Fatalf("caveat on equal configs: %s", a.Caveat)
	}
	for _, r := range fixtures() {
		if r.Scenario == "pubsub" {
			differ = append(differ, r)
		}
	}
	differ[1].Config = map[string]any{"rate": 5000, "duration": "10s"}
	if a := Advise("pubsub", presenterFor("pubsub"), differ, brokers, DefaultWeights()); a.Caveat == "" {
		t.Fatal("no caveat when one broker ran at another rate")
	}
	// Throughput decides only the raw-load scenario.
	var async []*result.Result
	for _, r := range fixtures() {
		if r.Scenario == "async" {
			async = append(async, r)
		}
	}
	for _, rk := range Advise("async", presenterFor("async"), async, brokers, DefaultWeights()).Ranking {
		if _, ok := rk.Parts["throughput"]; ok {
			t.Fatalf("%s: throughput scored in a fixed-rate business scenario", rk.Broker)
		}
	}
}

// TestRenderBrokerTitle checks that a broker's title (result.Broker.Title)
// names it, beside its adapter name, in the conditions box, the summary
// table and the capabilities table, and that a result without a title
// keeps the bare name.
func TestRenderBrokerTitle(t *testing.T) {
	var results []*result.Result
	for _, r := range fixtures() {
		if r.Broker.Name != "rabbitmq" && r.Broker.Name != "rocketmq" {
			continue
		}
		r.Broker.Title = "" // a result written before titles were recorded
		if r.Broker.Name == "rabbitmq" {
			r.Broker.Name, r.Broker.Title = "rabbitmq-stream", "RabbitMQ (streams)"
		}
		results = append(results, r)
	}
	var buf bytes.Buffer
	if err := Render(&buf, results, Options{Scenarios: catalog.Presentations()}); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, tt := range []struct{ where, want string }{
		{"conditions box", "<tr><td>RabbitMQ (streams) — rabbitmq-stream</td><td>3.10.8</td>"},
		{"summary table", "<tr><th>RabbitMQ (streams) — rabbitmq-stream</th>"},
		{"capabilities table", "<tr><td>RabbitMQ (streams) — rabbitmq-stream</td><td>3.10.8</td><td>github.com/rabbitmq/amqp091-go"},
		{"summary table, no title", "<tr><th>rocketmq</th>"},
	} {
		if !strings.Contains(html, tt.want) {
			t.Errorf("%s: report lacks %q", tt.where, tt.want)
		}
	}
	conditions := html[strings.Index(html, `id="conditions"`):strings.Index(html, `id="matrix"`)]
	if n := strings.Count(conditions, "RabbitMQ (streams) — rabbitmq-stream"); n != 1 {
		t.Errorf("conditions box names the stream variant %d times, want once", n)
	}
}
