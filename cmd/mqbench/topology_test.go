package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/scenarios/catalog"
)

// TestMatrixAllNamesWhatItCannotMeasure: `matrix --scenarios all` on a
// single node runs the single-node matrix and names failover as not
// measured, rather than running it.
func TestMatrixAllNamesWhatItCannotMeasure(t *testing.T) {
	all, err := parseScenarioList("all")
	if err != nil {
		t.Fatal(err)
	}
	run, not := catalog.SplitTopology(all, false)
	if !slices.Equal(run, catalog.Matrix()) || slices.Contains(run, "failover") {
		t.Fatalf("single-node matrix runs %v, want %v", run, catalog.Matrix())
	}
	if len(not) != 1 || !strings.HasPrefix(not[0], "failover: availability not measured") {
		t.Fatalf("not measured %v, want failover's sentence", not)
	}
}
