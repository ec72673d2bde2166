package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqbench/mqbench/report/result"
)

func TestRepeatFlagValidated(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--broker", "memory", "--scenario", "pubsub", "--quick", "--repeat", "0"}, "invalid --repeat 0: want a whole number from 1 to 50"},
		{[]string{"run", "--broker", "memory", "--scenario", "pubsub", "--quick", "--repeat", "51"}, "invalid --repeat 51"},
		{[]string{"run", "--broker", "memory", "--scenario", "pubsub", "--quick", "--repeat", "-3"}, "invalid --repeat -3"},
		{[]string{"run", "--broker", "memory", "--scenario", "pubsub", "--quick", "--repeat", "2.5"}, "invalid value \"2.5\" for flag -repeat"},
		{[]string{"matrix", "--quick", "--repeat", "0", "--out", "/nonexistent/never"}, "invalid --repeat 0"},
		{[]string{"matrix", "--repeat", "1000", "--out", "/nonexistent/never"}, "invalid --repeat 1000"},
	} {
		code, _, stderr := runCLI(t, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestMatrixRepeatsDefaultAndOrder(t *testing.T) {
	for _, tt := range []struct {
		flag       int
		set, quick bool
		want       int
	}{{0, false, false, fullMatrixRepeats}, {0, false, true, 1}, {2, true, true, 2}, {5, true, false, 5}} {
		if n, err := matrixRepeats(tt.flag, tt.set, tt.quick); err != nil || n != tt.want {
			t.Errorf("matrixRepeats(%d, %v, %v) = %d, %v; want %d", tt.flag, tt.set, tt.quick, n, err, tt.want)
		}
	}
	cells, err := planRepeats([]string{"memory"}, []string{"pubsub", "async"}, true, "durable", 2)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range cells {
		order = append(order, c.sc.Name()+"#"+string(rune('0'+c.repeat.Index)))
	}
	if got := strings.Join(order, " "); got != "pubsub#1 async#1 pubsub#2 async#2" {
		t.Errorf("order %s: want every cell of repeat 1 before repeat 2", got)
	}
	if cells[0].cfg == cells[2].cfg {
		t.Error("two repeats share one configuration")
	}
	if repeatDir("d", 2, 3) != filepath.Join("d", "r2") || repeatDir("d", 1, 1) != "d" {
		t.Error("repeatDir")
	}
}

func TestRunRepeatKeepsEveryRepeat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, "run", "--broker", "memory", "--scenario", "pubsub", "--quick", "--duration", "1s", "--rate", "200", "--repeat", "2", "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	set := ""
	for k := 1; k <= 2; k++ {
		r, err := result.Read(filepath.Join(dir, "r"+string(rune('0'+k)), "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Repeat == nil || r.Repeat.Index != k || r.Repeat.Of != 2 || (set != "" && r.Repeat.Set != set) {
			t.Fatalf("repeat %d records %+v", k, r.Repeat)
		}
		set = r.Repeat.Set
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(b), "2 runs of every cell") || !strings.Contains(string(b), "CI of 2 runs") {
		t.Errorf("report over the repeats missing or without intervals (%v); stdout %s", err, stdout)
	}
	// A second invocation into the same directory overwrites nothing.
	if code, _, stderr := runCLI(t, "run", "--broker", "memory", "--scenario", "pubsub", "--quick", "--repeat", "2", "--out", dir); code != exitUsage || !strings.Contains(stderr, "never overwrites") {
		t.Errorf("second run into %s: exit %d, %s", dir, code, stderr)
	}
}

func TestIdleBaseline(t *testing.T) {
	if measureIdle(t.Context(), nil) != nil {
		t.Error("a baseline without pids")
	}
	idle := measureIdle(t.Context(), []int{os.Getpid()})
	if idle == nil || len(idle.CPUPerS) != idleWindows || idle.WindowS != idleWindow.Seconds() {
		t.Fatalf("baseline %+v", idle)
	}
	for _, v := range idle.CPUPerS {
		if v < 0 || v > float64(64) {
			t.Errorf("idle rate %g out of range", v)
		}
	}
}
