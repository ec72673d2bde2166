package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/claims"
	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/report"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

// maxRepeats bounds --repeat: each repeat is a whole run (a whole matrix
// for `matrix`), so more than this is a typing error, not a plan.
const maxRepeats = 50

// fullMatrixRepeats is how often a full (not --quick) matrix runs each cell
// when --repeat is not given; a quick matrix runs each once.
const fullMatrixRepeats = 3

// checkRepeat validates a --repeat value.
func checkRepeat(n int) error {
	if n < 1 || n > maxRepeats {
		return fmt.Errorf("invalid --repeat %d: want a whole number from 1 to %d", n, maxRepeats)
	}
	return nil
}

// matrixRepeats is the number of repeats of a matrix: the flag when given
// (set), else fullMatrixRepeats for a full matrix and 1 for a quick one.
func matrixRepeats(flagValue int, set, quick bool) (int, error) {
	if set {
		return flagValue, checkRepeat(flagValue)
	}
	if quick {
		return 1, nil
	}
	return fullMatrixRepeats, nil
}

// flagGiven says the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// repeatDir is where repeat k of n of a cell writes its result: dir itself
// for a single run, dir/r<k> when repeated, so no repeat overwrites another.
func repeatDir(dir string, k, n int) string {
	if n <= 1 {
		return dir
	}
	return filepath.Join(dir, fmt.Sprintf("r%d", k))
}

// newRepeatSet names the repeats of one invocation (result.Repeat.Set).
func newRepeatSet(kind string, started time.Time) string {
	return fmt.Sprintf("%s-%s-%08x", kind, started.UTC().Format("20060102T150405Z"), uint32(newRunID()))
}

// runRepeated runs spec n times into spec.out/r1 … r<n> (spec.out empty:
// a fresh directory under results/), prints each summary, writes one
// report over the repeats into spec.out and returns the worst exit code:
// 130 when interrupted, else the first failure's. It stops early when a
// repeat could not run at all (bad output, unreachable broker).
func runRepeated(ctx context.Context, spec runSpec, n int, stdout, stderr io.Writer) int {
	started := time.Now().UTC()
	base := spec.out
	if base == "" {
		base = filepath.Join("results", started.Format("20060102T150405Z")+"-repeat")
	}
	set := newRepeatSet("run", started)
	var all []*result.Result
	code := exitOK
	for k := 1; k <= n && ctx.Err() == nil; k++ {
		s := spec
		s.out, s.report = repeatDir(base, k, n), false
		s.repeat = &result.Repeat{Set: set, Index: k, Of: n}
		fmt.Fprintf(stderr, "== repeat %d/%d\n", k, n)
		res, c := runOne(ctx, s, stdout, stderr)
		if res != nil {
			printSummary(stdout, res)
			all = append(all, res)
		}
		code = worseCode(code, c)
		if c == exitUsage || c == exitUnreachable || c == exitInterrupted {
			break
		}
	}
	if len(all) > 0 {
		path, err := report.WriteHTML(base, all, report.Options{Scenarios: catalog.Presentations(), Claims: claims.Table()})
		if err != nil {
			fmt.Fprintln(stderr, "mqbench run: writing report:", oneLine(err.Error()))
			return writeFailed(code)
		}
		fmt.Fprintf(stdout, "report: %s (%d repeats)\n", path, len(all))
	}
	return code
}

// worseCode combines two exit codes: an interruption wins, else the first
// that is not OK.
func worseCode(code, c int) int {
	if c == exitInterrupted || code == exitOK {
		return c
	}
	return code
}

// Idle baseline: idleWindows windows of idleWindow each, measured on the
// broker's processes just before every run whose broker pids are known.
const (
	idleWindow  = time.Second
	idleWindows = 3
)

// measureIdle reads the CPU rate of pids in idleWindows consecutive
// windows while mqbench sends nothing; nil when no pid is known or ctx
// ends first.
func measureIdle(ctx context.Context, pids []int) *result.Idle {
	if len(pids) == 0 {
		return nil
	}
	idle := &result.Idle{WindowS: idleWindow.Seconds()}
	prev, t0 := cpuSeconds(pids), time.Now()
	for i := 0; i < idleWindows; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(idleWindow):
		}
		cur, t := cpuSeconds(pids), time.Now()
		idle.CPUPerS = append(idle.CPUPerS, (cur-prev)/t.Sub(t0).Seconds())
		prev, t0 = cur, t
	}
	return idle
}

// Warm-up load: what a matrix sends through a broker, and discards, before
// the broker's first cell of every repeat, so that its start-up and JIT
// warm-up land in no cell.
const (
	warmUpRate          = 1000
	warmUpDurationQuick = 5 * time.Second
	warmUpDurationFull  = 20 * time.Second
)

// warmUp runs the discarded warm-up load (pubsub at warmUpRate) through
// broker ad into a temporary directory it then removes, and returns what
// was done in words, for result.Cost.WarmUp.
func warmUp(ctx context.Context, l *launch.Launcher, ad adapter, quick bool, prof driver.Profile, stderr io.Writer) string {
	d := warmUpDurationFull
	if quick {
		d = warmUpDurationQuick
	}
	what := fmt.Sprintf("a discarded warm-up load (pubsub, %s at %d msg/s) after the broker was brought up, before its first cell of the repeat", d, warmUpRate)
	sc, err := findScenario("pubsub")
	if err != nil {
		return "no warm-up: " + err.Error()
	}
	cfg := sc.DefaultConfig(true)
	b := cfg.Base()
	b.Scenario, b.Rate, b.Duration, b.Profile = sc.Name(), warmUpRate, d, string(prof)
	if err := cfg.Validate(); err != nil {
		return "no warm-up: " + oneLine(err.Error())
	}
	tmp, err := os.MkdirTemp("", "mqbench-warmup-")
	if err != nil {
		return "no warm-up: " + oneLine(err.Error())
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(stderr, "== %s: warm-up load, discarded (pubsub, %s at %d msg/s)\n", ad.name, d, warmUpRate)
	res, _ := runOne(ctx, runSpec{adapter: ad, scenario: sc, cfg: cfg, profile: prof, out: filepath.Join(tmp, "out"),
		preflight: 30 * time.Second, launcher: l}, io.Discard, io.Discard)
	if res == nil || res.Status != result.StatusComplete {
		return "the warm-up load did not complete; start-up work may be in the first cell"
	}
	return what
}

// planRepeats plans n repeats of the matrix of brokers × scens, in the
// order the matrix runs them: for each repeat, for each broker, for each
// scenario. All brokers run once before any runs again, so slow drift on
// a shared machine hits every broker alike, and each broker is brought up
// (and warmed up) once per repeat. Each repeat's cells are planned afresh,
// so no configuration is shared between runs.
func planRepeats(brokers, scens []string, quick bool, profile string, n int) ([]cellPlan, error) {
	if n <= 1 {
		return planCells(brokers, scens, quick, profile)
	}
	set := newRepeatSet("matrix", time.Now())
	var out []cellPlan
	for k := 1; k <= n; k++ {
		cells, err := planCells(brokers, scens, quick, profile)
		if err != nil {
			return nil, err
		}
		for _, c := range cells {
			c.repeat = &result.Repeat{Set: set, Index: k, Of: n}
			out = append(out, c)
		}
	}
	return out, nil
}
