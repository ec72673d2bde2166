package scenarios_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/brokers"
	"github.com/mqbench/mqbench/adapters/brokers/brokertest"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

// TestScenariosOnRealBrokers runs every scenario's --quick configuration
// against every real broker (all of them must answer with
// MQBENCH_REQUIRE_BROKERS=1) and checks the verdict and the acceptance
// figures of each scenario of the table (its present.Presenter's Accept).
// These brokers are single nodes: a scenario of the table that needs a
// cluster (catalog.Entry.Cluster) must refuse to run on them instead.
//
// A variant of a broker (rabbitmq-stream) runs only the scenarios named in
// variantScenarios here, to bound CI: it shares its broker's process, and
// its other scenarios are run through the CLI (README).
//
// With MQBENCH_MATRIX_RESULTS naming the output directory of a `mqbench
// matrix --quick` over the same brokers (CI runs it before the tests), a
// broker the matrix ran is checked from its results there
// (<dir>/<broker>/<scenario>/result.json, every one of catalog.Matrix()
// required) instead of running the same cells a second time; the other
// brokers, and the scenarios the matrix leaves out (pubsub), run here.
func TestScenariosOnRealBrokers(t *testing.T) {
	variantScenarios := map[string][]string{"rabbitmq-stream": {"pubsub", "backlog", "scale"}}
	if testing.Short() {
		t.Skip("integration test")
	}
	matrixDir := os.Getenv("MQBENCH_MATRIX_RESULTS")
	inMatrix := catalog.Matrix() // what a single-node matrix ran
	for _, b := range brokers.Real() {
		t.Run(b.Name, func(t *testing.T) {
			d := brokertest.Connect(t, b, driver.Durable)
			caps := d.Info().Capabilities
			fromMatrix := matrixDir != "" && dirExists(filepath.Join(matrixDir, b.Name))
			for _, e := range catalog.Table() {
				sc := e.Scenario
				if only, ok := variantScenarios[b.Name]; ok && !slices.Contains(only, sc.Name()) {
					continue
				}
				t.Run(sc.Name(), func(t *testing.T) {
					p := present.Of(sc)
					if p == nil {
						t.Fatalf("%s has no presentation, so no acceptance check", sc.Name())
					}
					if fromMatrix && slices.Contains(inMatrix, sc.Name()) {
						res, err := result.Read(filepath.Join(matrixDir, b.Name, sc.Name(), "result.json"))
						if err != nil {
							t.Fatalf("the matrix's result: %v", err)
						}
						accept(t, p, res, caps)
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
					defer cancel()
					env := scenarios.Env{Driver: d, Profile: driver.Durable, RunID: uint64(time.Now().UnixNano()),
						Prefix: brokertest.Prefix(sc.Name()), WorkDir: t.TempDir(), Log: brokertest.Quiet(),
						// As the CLI does: capacity measures mqbench's own ceiling through it.
						Reference: memory.Constructor(memory.Options{FlowLimit: 64 << 20})}
					res, err := sc.Run(ctx, env, sc.DefaultConfig(true))
					if e.Cluster {
						if err == nil {
							t.Fatal("a cluster-only scenario ran on a single node (Env.Cluster nil)")
						}
						return
					}
					if err != nil {
						t.Fatalf("run: %v", err)
					}
					accept(t, p, res, caps)
				})
			}
		})
	}
}

// accept checks a quick run's verdict and its scenario's acceptance
// figures.
func accept(t *testing.T, p present.Presenter, res *result.Result, caps driver.Capabilities) {
	t.Helper()
	if !res.Verdict.Pass {
		t.Errorf("verdict failed: %v; notes %q", res.Verdict.Violations, res.Notes)
	}
	if err := p.Accept(res, caps); err != nil {
		t.Errorf("acceptance: %v", err)
	}
	if t.Failed() {
		t.Logf("metrics: %v", res.Metrics)
	}
}

// dirExists reports whether path is a directory.
func dirExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
