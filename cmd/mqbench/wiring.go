package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mqbench/mqbench/adapters/brokers"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/async"
	"github.com/mqbench/mqbench/scenarios/capacity"
	"github.com/mqbench/mqbench/scenarios/decoupling"
	"github.com/mqbench/mqbench/scenarios/peakshaving"
	"github.com/mqbench/mqbench/scenarios/pubsub"
	"github.com/mqbench/mqbench/scenarios/transaction"
)

// adapter is one entry of the adapter table.
type adapter struct {
	name        string
	defaultAddr string
	new         driver.Constructor
	// describe returns the adapter's static description (no broker I/O, so
	// no broker version).
	describe func() driver.Info
	// external: a real broker process mqbench up can start.
	external bool
}

func (a adapter) info() driver.Info { return a.describe() }

// adapters is the explicit name -> constructor table (no init registries):
// the real brokers of adapters/brokers plus the in-process memory driver.
func adapters() []adapter {
	out := []adapter{{name: "memory", defaultAddr: "in-process", new: memory.New, describe: describeMemory}}
	for _, b := range brokers.Real() {
		out = append(out, adapter{name: b.Name, defaultAddr: b.DefaultAddr, new: b.New, describe: b.Describe, external: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// scenarioList is the explicit table of scenarios.
func scenarioList() []scenarios.Scenario {
	return []scenarios.Scenario{
		pubsub.Scenario{},
		async.Scenario{},
		decoupling.Scenario{},
		peakshaving.Scenario{},
		transaction.Scenario{},
		capacity.Scenario{},
	}
}

func findAdapter(name string) (adapter, error) {
	var names []string
	for _, a := range adapters() {
		if a.name == name {
			return a, nil
		}
		names = append(names, a.name)
	}
	sort.Strings(names)
	return adapter{}, fmt.Errorf("unknown broker %q (valid: %s)", name, strings.Join(names, ", "))
}

func findScenario(name string) (scenarios.Scenario, error) {
	var names []string
	for _, s := range scenarioList() {
		if s.Name() == name {
			return s, nil
		}
		names = append(names, s.Name())
	}
	return nil, fmt.Errorf("unknown scenario %q (valid: %s)", name, strings.Join(names, ", "))
}

func describeMemory() driver.Info {
	d, err := memory.NewBroker(memory.Options{}).Driver(driver.Config{})
	if err != nil {
		return driver.Info{Name: "memory"}
	}
	defer d.Close()
	return d.Info()
}
