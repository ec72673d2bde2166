package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mqbench/mqbench/adapters/brokers"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/compose/launch"
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
	// launch is the broker (compose/launch spec) an external adapter runs
	// on: its own name, or the broker it is a variant of.
	launch string
}

func (a adapter) info() driver.Info { return a.describe() }

// title is the adapter's product name (driver.Info.Title), "" when the
// adapter has no description.
func (a adapter) title() string {
	if a.describe == nil {
		return ""
	}
	return a.describe().Title
}

// adapters is the explicit name -> constructor table (no init registries):
// the real brokers of adapters/brokers plus the in-process memory driver.
func adapters() []adapter {
	out := []adapter{{name: "memory", defaultAddr: "in-process", new: memory.New, describe: describeMemory}}
	for _, b := range brokers.Real() {
		out = append(out, adapter{name: b.Name, defaultAddr: b.DefaultAddr, new: b.New, describe: b.Describe, external: true, launch: b.Launch})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
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

// launchNames maps adapter names to the brokers (compose/launch specs) they
// run on, in order and without repeats: a variant such as rabbitmq-stream
// becomes rabbitmq; any other name is kept as given, for the launcher to
// accept or refuse.
func launchNames(names []string) []string {
	var out []string
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if a, err := findAdapter(n); err == nil && a.launch != "" {
			n = a.launch
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// parseMatrixBrokers parses matrix's --brokers: all (or empty) is every
// broker of the launcher, each through its own adapter (variants such as
// rabbitmq-stream only run when named); a list names adapters of real
// brokers, kept in adapter-table order without repeats.
func parseMatrixBrokers(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "all") {
		return launch.Names(), nil
	}
	want := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		n := strings.ToLower(strings.TrimSpace(part))
		if n == "all" {
			for _, l := range launch.Names() {
				want[l] = true
			}
			continue
		}
		a, err := findAdapter(n)
		if err != nil || !a.external {
			return nil, fmt.Errorf("unknown broker %q (valid: %s, or all)", n, strings.Join(externalNames(), ", "))
		}
		want[n] = true
	}
	var out []string
	for _, n := range externalNames() {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// parseMatrixBrokersFor is parseMatrixBrokers for topology t: on a cluster,
// "all" means every broker with a cluster form, and a named broker must
// have one.
func parseMatrixBrokersFor(s string, t launch.Topology) ([]string, error) {
	if t != launch.TopologyCluster {
		return parseMatrixBrokers(s)
	}
	if v := strings.TrimSpace(s); v == "" || strings.EqualFold(v, "all") {
		return launch.NamesFor(t), nil
	}
	names, err := parseMatrixBrokers(s)
	if err != nil {
		return nil, err
	}
	for _, n := range launchNames(names) {
		if _, err := launch.FindTopology(n, t); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// externalNames lists the adapters of real brokers, variants included.
func externalNames() []string {
	var out []string
	for _, a := range adapters() {
		if a.external {
			out = append(out, a.name)
		}
	}
	return out
}

func describeMemory() driver.Info {
	d, err := memory.NewBroker(memory.Options{}).Driver(driver.Config{})
	if err != nil {
		return driver.Info{Name: "memory", Title: "in-memory reference"}
	}
	defer d.Close()
	return d.Info()
}
