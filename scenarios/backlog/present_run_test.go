package backlog_test

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/scenarios/backlog"
)

// TestPresentationOfARun: a real (memory broker) run whose driver reports
// a block is accepted, and its findings name the block in the broker's
// words beside the figures.
func TestPresentationOfARun(t *testing.T) {
	res, err := run(t, setup{report: true, rss: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := (backlog.Scenario{}).Accept(res, driver.Capabilities{}); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	got := strings.Join(backlog.Scenario{}.Findings(res), "\n")
	for _, want := range []string{"built a backlog of 3000 messages", "publishers blocked", "in its words: connection.blocked: low on memory (1×)",
		"broker RSS up to 123 MiB while accumulating", "drained in"} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
}
