package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/claims"
	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/report"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

// Summary is DIR/summary.json of a matrix run.
type Summary struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Profile    string    `json:"profile"`
	Quick      bool      `json:"quick"`
	// Repeats is how often each cell ran (1 when not repeated).
	Repeats int `json:"repeats"`
	// Topology is single or cluster (absent before it was recorded).
	Topology string        `json:"topology,omitempty"`
	Cells    []SummaryCell `json:"cells"`
	Report   string        `json:"report"`
	Pass     bool          `json:"pass"`
	// NotMeasured names the scenarios asked for that this topology cannot
	// run, each with what was therefore not measured.
	NotMeasured []string `json:"not_measured,omitempty"`
}

// SummaryCell is one broker × scenario cell of a matrix.
type SummaryCell struct {
	Broker   string  `json:"broker"`
	Scenario string  `json:"scenario"`
	Status   string  `json:"status"`
	Pass     bool    `json:"pass"`
	Headline string  `json:"headline"`
	Seconds  float64 `json:"seconds"`
	Result   string  `json:"result"`
	Error    string  `json:"error,omitempty"`
	// Repeat is the cell's repeat index (1-based), 0 when not repeated.
	Repeat int `json:"repeat,omitempty"`
}

func cmdMatrix(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	p, code := parseMatrix(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	started := time.Now().UTC()
	dir := p.out
	if dir == "" {
		dir = filepath.Join("results", "matrix-"+started.Format("20060102T150405Z"))
	}
	release, err := claimOut(dir, "summary.json")
	if err != nil {
		fmt.Fprintln(stderr, "mqbench matrix:", err)
		return exitUsage
	}
	defer release()
	// Every cell runs on a broker in the configuration its profile needs: a
	// broker mqbench started with the other disk setting is restarted.
	l, err := launch.New(launch.Options{Mode: p.mode, AsyncFlush: p.profile == "fast", Reconfigure: true, Topology: p.topo})
	if err != nil {
		fmt.Fprintln(stderr, "mqbench matrix:", err)
		return exitUsage
	}
	mx := matrixRun{l: l, dir: dir, isolate: p.isolate, addr: p.addr, stderr: stderr}
	if p.addr == "" {
		// Remember which brokers ran before, to restore that state at the end.
		before := runningBrokers(ctx, l, launchNames(p.brokers))
		defer restoreBrokers(ctx, l, launchNames(p.brokers), before, p.isolate, stderr)
	}

	for _, n := range p.notMeasured { // said once every input is checked
		fmt.Fprintln(stderr, "mqbench matrix:", n)
	}
	sum := Summary{StartedAt: started, Profile: p.profile, Quick: p.quick, Repeats: p.repeats, Pass: true, Topology: string(p.topo), NotMeasured: p.notMeasured}
	code = mx.runCells(ctx, p.cells, &sum)
	sum.FinishedAt = time.Now().UTC()
	code = writeMatrixReport(dir, p.weights, &sum, code, stderr)
	if b, err := json.MarshalIndent(sum, "", "  "); err == nil {
		if err := result.WriteFileAtomic(filepath.Join(dir, "summary.json"), append(b, '\n')); err != nil {
			fmt.Fprintln(stderr, "mqbench matrix:", oneLine(err.Error()))
			code = writeFailed(code)
		}
	}
	printMatrix(stdout, sum)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return code
}

// matrixPlan is a matrix command line, checked: every cell is planned and
// valid before any broker is touched.
type matrixPlan struct {
	brokers     []string
	cells       []cellPlan
	notMeasured []string
	topo        launch.Topology
	mode        launch.Mode
	weights     report.Weights
	profile     string
	out, addr   string
	quick       bool
	isolate     bool
	repeats     int
}

// parseMatrix parses and checks matrix's flags. A code of 0 or more
// (help, or a usage error already printed) ends the command.
func parseMatrix(args []string, stdout, stderr io.Writer) (matrixPlan, int) {
	var p matrixPlan
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	brokersFlag := fs.String("brokers", "all", "brokers: all ("+strings.Join(launch.Names(), ", ")+") or a comma list of adapters, which may name a variant (rabbitmq-stream)")
	scenFlag := fs.String("scenarios", "all", "scenarios: all ("+strings.Join(catalog.Matrix(), ", ")+") or a comma list")
	fs.BoolVar(&p.quick, "quick", false, "short profile of every scenario")
	fs.StringVar(&p.profile, "profile", "durable", "durability profile: durable or fast")
	fs.StringVar(&p.out, "out", "", "output directory (default results/matrix-<UTC time>); checked before any broker starts, and refused if it already holds a summary.json (never overwritten) or another run is using it")
	mode := fs.String("mode", "auto", "how to start brokers that are not running: auto, compose or native")
	fs.BoolVar(&p.isolate, "isolate", true, "measure one broker at a time: stop the other brokers mqbench manages while one runs, and restore them after")
	weights := fs.String("weights", "", "advice priorities for the report, e.g. latency=3,reliability=5")
	repeat := fs.Int("repeat", 0, fmt.Sprintf("run every cell this many times (1 to %d; default %d, or 1 with --quick): for each repeat, each broker, each scenario", maxRepeats, fullMatrixRepeats))
	topology := fs.String("topology", "single", "single or cluster: with cluster each broker runs as its replicated HA topology ("+strings.Join(launch.NamesFor(launch.TopologyCluster), ", ")+"), one cluster at a time")
	fs.StringVar(&p.addr, "addr", "", "address (host:port or a comma-separated list of a cluster's nodes) of a broker mqbench does not start; needs exactly one broker in --brokers")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mqbench matrix [--brokers all|a,b] [--scenarios all|x,y] [--quick] [--repeat N] [--profile durable|fast] [--out DIR]\n\nRuns every broker × scenario cell and writes DIR/<broker>/<scenario>/result.json\n(DIR/<broker>/<scenario>/r<k>/result.json when repeated), DIR/summary.json and\nDIR/report.html. Brokers not running are started first, and each gets a discarded\nwarm-up load before its first cell of every repeat.\n\nFlags:")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return p, code
	}
	fail := func(err error) (matrixPlan, int) {
		fmt.Fprintln(stderr, "mqbench matrix:", err)
		return p, exitUsage
	}
	var err error
	if p.topo, err = launch.ParseTopology(*topology); err != nil {
		return fail(fmt.Errorf("--topology: %w", err))
	}
	if p.brokers, err = parseMatrixBrokersFor(*brokersFlag, p.topo); err != nil {
		return fail(err)
	}
	scens, err := parseScenarioList(*scenFlag)
	if err != nil {
		return fail(err)
	}
	// On a single-node topology a scenario that needs a cluster
	// (failover) is not run, and the summary and report say so.
	scens, p.notMeasured = catalog.SplitTopology(scens, p.topo == launch.TopologyCluster)
	if len(scens) == 0 {
		return fail(fmt.Errorf("nothing to run on a single-node topology (%s)", strings.Join(p.notMeasured, "; ")))
	}
	if p.profile != "durable" && p.profile != "fast" {
		return fail(fmt.Errorf("unknown profile %q (valid: durable, fast)", p.profile))
	}
	if p.weights, err = report.ParseWeights(*weights); err != nil {
		return fail(err)
	}
	if p.mode, err = launch.ParseMode(*mode); err != nil {
		return fail(err)
	}
	if p.repeats, err = matrixRepeats(*repeat, flagGiven(fs, "repeat"), p.quick); err != nil {
		return fail(err)
	}
	// Validate every cell's configuration before touching any broker.
	if p.cells, err = planRepeats(p.brokers, scens, p.quick, p.profile, p.repeats); err != nil {
		return fail(err)
	}
	if err := checkMatrixAddr(p.addr, p.brokers, p.cells); err != nil {
		return fail(err)
	}
	return p, -1
}

// checkMatrixAddr checks matrix's --addr (empty: mqbench starts the
// brokers): it names one broker's address, valid for that broker.
func checkMatrixAddr(addr string, brokers []string, cells []cellPlan) error {
	if addr == "" {
		return nil
	}
	if len(brokers) != 1 {
		return errors.New("--addr names one broker's address: give exactly one broker in --brokers")
	}
	return checkConnFlags(cells[0].ad, runFlags{addr: addr, preflight: time.Second}, map[string]bool{"addr": true})
}

// runningBrokers says which of names run and answer now (none when their
// status cannot be read).
func runningBrokers(ctx context.Context, l *launch.Launcher, names []string) map[string]bool {
	before := map[string]bool{}
	if sts, err := l.Status(ctx, names); err == nil {
		for _, st := range sts {
			before[st.Name] = st.Running && st.Healthy
		}
	}
	return before
}

// writeMatrixReport writes dir/report.html over every result under dir,
// records its path in sum and returns the exit code: code, or a write
// failure's (writeFailed) when the report could not be written.
func writeMatrixReport(dir string, w report.Weights, sum *Summary, code int, stderr io.Writer) int {
	results, err := result.LoadDir(dir)
	if err != nil {
		return code
	}
	path, err := report.WriteHTML(dir, results, report.Options{Title: "mqbench matrix", Weights: w, Scenarios: catalog.Presentations(), Claims: claims.Table(), NotMeasured: sum.NotMeasured})
	if err != nil {
		fmt.Fprintln(stderr, "mqbench matrix: report:", oneLine(err.Error()))
		return writeFailed(code)
	}
	sum.Report = path
	return code
}

// cellPlan is one broker × scenario cell of a matrix, validated.
type cellPlan struct {
	ad  adapter
	sc  scenarios.Scenario
	cfg scenarios.Config
	// repeat is the cell's place among the repeats (nil: not repeated).
	repeat *result.Repeat
	quick  bool
}

// planCells builds and validates every cell, broker-major.
func planCells(brokers, scens []string, quick bool, profile string) ([]cellPlan, error) {
	var cells []cellPlan
	for _, b := range brokers {
		ad, err := findAdapter(b)
		if err != nil {
			return nil, err
		}
		for _, s := range scens {
			sc, err := findScenario(s)
			if err != nil {
				return nil, err
			}
			cfg, _, err := buildConfig(sc, runFlags{quick: quick, profile: profile}, map[string]bool{"profile": true})
			if err != nil {
				return nil, err
			}
			cells = append(cells, cellPlan{ad: ad, sc: sc, cfg: cfg, quick: quick})
		}
	}
	return cells, nil
}

// restoreBrokers puts the brokers back as they were before the matrix:
// those that ran before run again; the ones mqbench started for it stop.
func restoreBrokers(ctx context.Context, l *launch.Launcher, brokers []string, before map[string]bool, isolate bool, stderr io.Writer) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	var up, down []string
	for _, n := range launch.NamesFor(l.Topology()) {
		if before[n] {
			up = append(up, n)
		} else if slices.Contains(brokers, n) {
			down = append(down, n)
		}
	}
	if len(down) > 0 {
		_ = l.Down(rctx, down, stderr)
	}
	if len(up) > 0 && isolate {
		_ = l.Up(rctx, up, stderr)
	}
}

// matrixRun is what every cell of one matrix shares.
type matrixRun struct {
	l       *launch.Launcher
	dir     string
	isolate bool
	// addr, when set, is the address of the one broker, which mqbench
	// neither starts nor stops.
	addr   string
	stderr io.Writer
}

// bringUp readies broker b before its first cell: with isolate (and always
// for clusters, one family at a time) the other brokers of the launcher's
// topology stop first.
func (m matrixRun) bringUp(ctx context.Context, b string) {
	if m.addr != "" {
		return
	}
	if m.isolate || m.l.Topology() == launch.TopologyCluster {
		fmt.Fprintf(m.stderr, "== %s: stopping the other brokers mqbench manages (%s topology), so they take no CPU\n", b, m.l.Topology())
		_ = m.l.Down(ctx, otherBrokers(b, m.l.Topology()), m.stderr)
	}
	fmt.Fprintf(m.stderr, "== %s: bringing it up (if needed)\n", b)
	if err := m.l.Up(ctx, []string{b}, m.stderr); err != nil {
		fmt.Fprintf(m.stderr, "mqbench matrix: %s did not come up: %v\n", b, err)
	}
}

// runCells runs the cells one after the other into dir, bringing each
// broker up before its first cell, records each cell in sum, and returns
// the exit code so far.
func (m matrixRun) runCells(ctx context.Context, cells []cellPlan, sum *Summary) int {
	stderr := m.stderr
	code := exitOK
	var cellTimes []time.Duration
	warm := ""
	for i, c := range cells {
		if ctx.Err() != nil {
			break
		}
		b := c.ad.launch // the broker the adapter runs on
		if i == 0 || cells[i-1].ad.launch != b {
			m.bringUp(ctx, b)
			warm = m.warmUp(ctx, c, driver.Profile(sum.Profile))
		}
		eta := ""
		if len(cellTimes) > 0 {
			var tot time.Duration
			for _, d := range cellTimes {
				tot += d
			}
			eta = fmt.Sprintf(", ~%s left", (tot / time.Duration(len(cellTimes)) * time.Duration(len(cells)-i)).Truncate(time.Second))
		}
		fmt.Fprintf(stderr, "== cell %d/%d: %s/%s (elapsed %s%s)\n", i+1, len(cells), c.ad.name, c.sc.Name(), time.Since(sum.StartedAt).Truncate(time.Second), eta)
		t0 := time.Now()
		sc, cellCode := m.runCell(ctx, c, driver.Profile(sum.Profile), warm)
		cellTimes = append(cellTimes, time.Since(t0))
		if !sc.Pass {
			sum.Pass = false
			if code == exitOK {
				code = exitFailed
			}
		}
		if cellCode == exitInterrupted {
			code = exitInterrupted
		}
		sum.Cells = append(sum.Cells, sc)
	}
	return code
}

// dial points spec at the broker the matrix runs: --addr, else the one
// mqbench started (every node of a cluster, and its management URLs),
// whose processes it meters.
func (m matrixRun) dial(spec *runSpec) {
	if m.addr != "" {
		return
	}
	spec.pids, _ = m.l.PIDs(spec.adapter.launch)
	spec.launcher = m.l
	if m.l.Topology() == launch.TopologyCluster {
		spec.addr, _ = m.l.Addr(spec.adapter.launch)
		spec.management, _ = m.l.ManagementURL(spec.adapter.launch)
	}
}

// warmUp sends the discarded warm-up load through the broker of cell c
// (none with --addr: mqbench did not start that broker) and says what it
// did, for the result.
func (m matrixRun) warmUp(ctx context.Context, c cellPlan, prof driver.Profile) string {
	if m.addr != "" {
		return "no warm-up: the broker at --addr was not started by mqbench"
	}
	return warmUp(ctx, m.l, c.ad, c.quick, prof, m.stderr)
}

// runCell runs one cell into dir/<broker>/<scenario> and summarises it.
func (m matrixRun) runCell(ctx context.Context, c cellPlan, prof driver.Profile, warm string) (SummaryCell, int) {
	b := c.ad.name
	cellDir := filepath.Join(m.dir, b, c.sc.Name())
	idx := 0
	if c.repeat != nil {
		cellDir, idx = repeatDir(cellDir, c.repeat.Index, c.repeat.Of), c.repeat.Index
	}
	spec := runSpec{adapter: c.ad, scenario: c.sc, cfg: c.cfg, profile: prof, out: cellDir,
		preflight: 30 * time.Second, addr: m.addr, topology: m.l.Topology(), repeat: c.repeat, warmUp: warm}
	m.dial(&spec)
	t0 := time.Now()
	res, cellCode := runOne(ctx, spec, io.Discard, m.stderr)
	sc := SummaryCell{Broker: b, Scenario: c.sc.Name(), Seconds: time.Since(t0).Seconds(), Result: filepath.Join(cellDir, "result.json"), Repeat: idx}
	if res != nil {
		sc.Status, sc.Pass, sc.Error = res.Status, res.Verdict.Pass && res.Status == result.StatusComplete, res.Error
		if h := report.HeadlineOf(res, present.Of(c.sc)); h.Ok {
			sc.Headline = fmt.Sprintf("%s %.4g %s", h.Label, h.Value, h.Unit)
		}
	}
	return sc, cellCode
}

// otherBrokers lists the brokers mqbench manages in topology t other than b.
func otherBrokers(b string, t launch.Topology) []string {
	var o []string
	for _, n := range launch.NamesFor(t) {
		if n != b {
			o = append(o, n)
		}
	}
	return o
}

func parseScenarioList(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return catalog.MatrixFor(true), nil // SplitTopology leaves out, and names, what this topology cannot run
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		n := strings.TrimSpace(part)
		if _, err := findScenario(n); err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func printMatrix(w io.Writer, s Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tSCENARIO\tVERDICT\tHEADLINE\tSECONDS")
	for _, c := range s.Cells {
		v := "PASS"
		if !c.Pass {
			v = "FAIL"
			if c.Status != "" && c.Status != result.StatusComplete {
				v += " (" + c.Status + ")"
			}
		}
		scen := c.Scenario
		if c.Repeat > 0 {
			scen = fmt.Sprintf("%s #%d", scen, c.Repeat)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\n", c.Broker, scen, v, c.Headline, c.Seconds)
	}
	tw.Flush()
	for _, c := range s.Cells {
		if c.Error != "" {
			fmt.Fprintf(w, "%s/%s error: %s\n", c.Broker, c.Scenario, c.Error)
		}
	}
	for _, n := range s.NotMeasured {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintf(w, "took %s\n", s.FinishedAt.Sub(s.StartedAt).Truncate(time.Second))
	if s.Report != "" {
		fmt.Fprintf(w, "report: %s\n", s.Report)
	}
}
