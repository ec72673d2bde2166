package catalog

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/report/present"
)

func TestTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range All() {
		name := s.Name()
		if name == "" || seen[name] {
			t.Errorf("scenario name %q empty or listed twice", name)
		}
		seen[name] = true
		if present.Of(s) == nil {
			t.Errorf("%s does not implement present.Presenter: the report would show it with generic defaults and the integration test could not accept it", name)
		}
		if got, err := Find(name); err != nil || got.Name() != name {
			t.Errorf("Find(%q) = %v, %v", name, got, err)
		}
	}
	if len(Presentations()) != len(All()) {
		t.Errorf("Presentations has %d entries, the table %d", len(Presentations()), len(All()))
	}
	if want := []string{"capacity", "async", "decoupling", "peakshaving", "transaction", "backlog", "scale"}; !slices.Equal(Matrix(), want) {
		t.Errorf("Matrix() = %v, want %v", Matrix(), want)
	}
	if want := append(Matrix(), "failover"); !slices.Equal(MatrixFor(true), want) {
		t.Errorf("MatrixFor(cluster) = %v, want %v", MatrixFor(true), want)
	}
	run, not := SplitTopology([]string{"async", "failover"}, false)
	if !slices.Equal(run, []string{"async"}) || len(not) != 1 || !strings.HasPrefix(not[0], "failover: availability not measured") {
		t.Errorf("SplitTopology single node: run %v, not measured %v", run, not)
	}
	if run, not := SplitTopology([]string{"async", "failover"}, true); len(run) != 2 || len(not) != 0 {
		t.Errorf("SplitTopology cluster: run %v, not measured %v", run, not)
	}
	if _, err := Find("nope"); err == nil || !strings.Contains(err.Error(), "valid: pubsub, capacity, async") {
		t.Errorf("Find(nope) err %v, want the valid names", err)
	}
}

// TestNoRenderingDeps keeps plotting, HTML templates and package report
// out of the scenarios and adapters: they describe their presentation as
// data (report/present) and report renders it.
func TestNoRenderingDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "../../scenarios/...", "../../adapters/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 20 {
		t.Fatalf("go list listed %d packages: %q", len(pkgs), out)
	}
	for _, p := range pkgs {
		if strings.HasPrefix(p, "gonum.org/") || p == "html/template" || p == "github.com/mqbench/mqbench/report" {
			t.Errorf("a scenario or adapter depends on %s", p)
		}
	}
}
