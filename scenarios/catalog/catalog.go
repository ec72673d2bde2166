// Package catalog is the one explicit table of scenarios (no init
// registries). The CLI (run, matrix, list), the report (through
// report.Options.Scenarios) and the integration test all read it; adding a
// scenario means its package and one row here.
package catalog

import (
	"fmt"
	"strings"

	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/async"
	"github.com/mqbench/mqbench/scenarios/backlog"
	"github.com/mqbench/mqbench/scenarios/capacity"
	"github.com/mqbench/mqbench/scenarios/decoupling"
	"github.com/mqbench/mqbench/scenarios/failover"
	"github.com/mqbench/mqbench/scenarios/peakshaving"
	"github.com/mqbench/mqbench/scenarios/pubsub"
	"github.com/mqbench/mqbench/scenarios/scale"
	"github.com/mqbench/mqbench/scenarios/transaction"
)

// Entry is one row of the table.
type Entry struct {
	Scenario scenarios.Scenario
	// Matrix says `mqbench matrix --scenarios all` runs it. The raw load
	// at a fixed rate (pubsub) is left out: name it to include it; the
	// maximum sustainable rate (capacity) is in.
	Matrix bool
	// Cluster says it runs only on a cluster topology (it injects node
	// faults through scenarios.Env.Cluster): a single-node matrix leaves
	// it out and says what was not measured (present.Unmeasured), a
	// cluster matrix runs it when Matrix is set.
	Cluster bool
}

// Table returns the scenarios in the order the CLI lists them and the
// report shows them. Every scenario of the table implements
// present.Presenter (a test checks it).
func Table() []Entry {
	return []Entry{
		{Scenario: pubsub.Scenario{}},
		{Scenario: capacity.Scenario{}, Matrix: true},
		{Scenario: async.Scenario{}, Matrix: true},
		{Scenario: decoupling.Scenario{}, Matrix: true},
		{Scenario: peakshaving.Scenario{}, Matrix: true},
		{Scenario: transaction.Scenario{}, Matrix: true},
		{Scenario: backlog.Scenario{}, Matrix: true},
		{Scenario: scale.Scenario{}, Matrix: true},
		{Scenario: failover.Scenario{}, Matrix: true, Cluster: true},
	}
}

// All returns the scenarios of the table, in its order.
func All() []scenarios.Scenario {
	var out []scenarios.Scenario
	for _, e := range Table() {
		out = append(out, e.Scenario)
	}
	return out
}

// Matrix returns the names of the scenarios `matrix --scenarios all` runs
// on a single-node topology, in table order: those marked Matrix and not
// Cluster.
func Matrix() []string { return MatrixFor(false) }

// MatrixFor returns the names of the scenarios `matrix --scenarios all`
// runs on a cluster topology (cluster true) or a single-node one, in table
// order.
func MatrixFor(cluster bool) []string {
	var out []string
	for _, e := range Table() {
		if e.Matrix && (cluster || !e.Cluster) {
			out = append(out, e.Scenario.Name())
		}
	}
	return out
}

// SplitTopology splits names into those that run on the topology
// (cluster true: every one) and, on a single node, those that need a
// cluster, each with the sentence a report shows in its place
// ("<name>: <present.Unmeasured sentence>").
func SplitTopology(names []string, cluster bool) (run []string, notMeasured []string) {
	for _, n := range names {
		e, ok := entry(n)
		if !ok || cluster || !e.Cluster {
			run = append(run, n)
			continue
		}
		why := "not measured: it runs only on a cluster topology (--topology cluster)"
		if u, ok := e.Scenario.(present.Unmeasured); ok {
			why = u.NotMeasured()
		}
		notMeasured = append(notMeasured, n+": "+why)
	}
	return run, notMeasured
}

// entry returns the row of the scenario called name.
func entry(name string) (Entry, bool) {
	for _, e := range Table() {
		if e.Scenario.Name() == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Find returns the scenario called name, or an error naming the valid
// ones.
func Find(name string) (scenarios.Scenario, error) {
	var names []string
	for _, s := range All() {
		if s.Name() == name {
			return s, nil
		}
		names = append(names, s.Name())
	}
	return nil, fmt.Errorf("unknown scenario %q (valid: %s)", name, strings.Join(names, ", "))
}

// Presentations returns the table as package report reads it
// (report.Options.Scenarios): each scenario's name, and its presentation
// through present.Presenter.
func Presentations() []present.Named {
	var out []present.Named
	for _, s := range All() {
		out = append(out, s)
	}
	return out
}
