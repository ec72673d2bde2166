package scale_test

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/scenarios/scale"
)

// TestPresentationOfARun: a real (memory broker) run with a step the
// broker cannot do is accepted, and its findings give that step's error in
// the broker's words beside the figures of the steps that ran.
func TestPresentationOfARun(t *testing.T) {
	res, _ := run(t, setup{dests: []int{1, 5}, conns: []int{2}, maxConsumers: 3})
	if err := (scale.Scenario{}).Accept(res, driver.Capabilities{}); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	got := strings.Join(scale.Scenario{}.Findings(res), "\n")
	for _, want := range []string{"by destinations (1, one producer and one consumer each): received ",
		"by connections (2 producers and as many consumers on one destination): received ", "step dest5 could not run on this machine: ", "too many open files"} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
}
