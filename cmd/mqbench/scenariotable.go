package main

import (
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

// scenarioList is the scenario table (scenarios/catalog), in its order.
func scenarioList() []scenarios.Scenario { return catalog.All() }

// findScenario returns the table's scenario called name, or an error
// naming the valid ones.
func findScenario(name string) (scenarios.Scenario, error) { return catalog.Find(name) }
