package scenarios_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/async"
	"github.com/mqbench/mqbench/scenarios/decoupling"
	"github.com/mqbench/mqbench/scenarios/failover"
	"github.com/mqbench/mqbench/scenarios/peakshaving"
	"github.com/mqbench/mqbench/scenarios/pubsub"
	"github.com/mqbench/mqbench/scenarios/transaction"
	"go.yaml.in/yaml/v3"
)

// TestExampleWorkloads decodes every example in workloads/ strictly into
// the scenario it names, so the examples the README points at stay valid.
func TestExampleWorkloads(t *testing.T) {
	all := map[string]scenarios.Scenario{}
	for _, s := range []scenarios.Scenario{pubsub.Scenario{}, async.Scenario{}, decoupling.Scenario{}, failover.Scenario{}, peakshaving.Scenario{}, transaction.Scenario{}} {
		all[s.Name()] = s
	}
	files, err := filepath.Glob("workloads/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example workloads: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var head struct {
				Scenario string `yaml:"scenario"`
			}
			if err := yaml.Unmarshal(b, &head); err != nil || all[head.Scenario] == nil {
				t.Fatalf("%s names no known scenario (%q): %v", f, head.Scenario, err)
			}
			cfg := all[head.Scenario].DefaultConfig(false)
			if err := scenarios.DecodeWorkload(f, b, cfg); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "mqbench run") {
				t.Errorf("%s has no usage line", f)
			}
		})
	}
}
