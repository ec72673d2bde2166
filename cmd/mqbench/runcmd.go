package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/claims"
	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/report"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/catalog"
	"github.com/mqbench/mqbench/scenarios/cluster"
	"github.com/mqbench/mqbench/scenarios/store"
)

// runFlags are the flags of `mqbench run`.
type runFlags struct {
	broker, scenario, addr, profile, workload, out string
	management                                     string
	topology                                       string
	quick, verbose                                 bool
	rate                                           float64
	duration                                       time.Duration
	size, producers, consumers                     int
	preflight                                      time.Duration
	repeat                                         int
	cpuprofile                                     string
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.broker, "broker", "", "broker adapter (see `mqbench list`)")
	fs.StringVar(&f.scenario, "scenario", "", "scenario (see `mqbench list`)")
	fs.StringVar(&f.management, "management", "", "the broker's HTTP management URL, for settings its protocol cannot read (ActiveMQ: Jolokia, default http://<host of --addr>:8161/api/jolokia, or with --topology cluster each node's agent, and a list of brokers needs one URL per broker, comma-separated; RabbitMQ cluster: the management API, http://host:15672, any node, a comma list tried in turn; user:password@ allowed)")
	fs.StringVar(&f.addr, "addr", "", "broker address host:port, or a comma-separated list h1:p1,h2:p2 of a cluster's nodes (default: the workload file's addr, else the broker's standard local port(s) for --topology; not for the memory broker)")
	fs.StringVar(&f.topology, "topology", "single", "single or cluster: which broker mqbench up started to dial by default, and what the result records")
	fs.StringVar(&f.profile, "profile", "", "durability profile: durable (default), fast, unsafe")
	fs.StringVar(&f.workload, "workload", "", "workload YAML file with the scenario's settings")
	fs.StringVar(&f.out, "out", "", "directory for result.json and report.html (default results/<UTC time>-<id>); checked before connecting, and refused if it already holds a result.json (never overwritten) or another run is using it")
	fs.BoolVar(&f.quick, "quick", false, "short profile that finishes well under a minute")
	fs.BoolVar(&f.verbose, "v", false, "log diagnostics to stderr")
	fs.Float64Var(&f.rate, "rate", 0, "target rate per second (0 with the flag set = as fast as possible)")
	fs.DurationVar(&f.duration, "duration", 0, "measured duration, e.g. 30s")
	fs.IntVar(&f.size, "size", 0, "message size in bytes")
	fs.IntVar(&f.producers, "producers", 0, "producer goroutines")
	fs.IntVar(&f.consumers, "consumers", 0, "consumer goroutines per group")
	fs.DurationVar(&f.preflight, "preflight", 15*time.Second, "bound on connecting to the broker (> 0)")
	fs.IntVar(&f.repeat, "repeat", 1, fmt.Sprintf("run it this many times (1 to %d) into DIR/r1 … DIR/rN, with one report over the repeats (medians and confidence intervals)", maxRepeats))
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write mqbench's own Go CPU profile of the whole run to this new file (for go tool pprof: where mqbench spends its CPU; an existing file is refused)")
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mqbench run --broker B --scenario S [flags]\n\nRuns one scenario against one broker and writes DIR/result.json.\nFlags override the workload file, which overrides the scenario's defaults.\n\nFlags:")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	if f.broker == "" || f.scenario == "" {
		fmt.Fprintln(stderr, "mqbench run: --broker and --scenario are required (see `mqbench list`)")
		return exitUsage
	}
	ad, err := findAdapter(f.broker)
	if err != nil {
		fmt.Fprintln(stderr, "mqbench run:", err)
		return exitUsage
	}
	sc, err := findScenario(f.scenario)
	if err != nil {
		fmt.Fprintln(stderr, "mqbench run:", err)
		return exitUsage
	}
	cfg, profile, err := buildConfig(sc, f, set)
	if err != nil {
		fmt.Fprintln(stderr, "mqbench run:", err)
		return exitUsage
	}
	topo, err := launch.ParseTopology(f.topology)
	if err != nil {
		fmt.Fprintln(stderr, "mqbench run: --topology:", err)
		return exitUsage
	}
	// On a single node a scenario that needs a cluster is refused before
	// anything connects.
	if _, not := catalog.SplitTopology([]string{sc.Name()}, topo == launch.TopologyCluster); len(not) > 0 {
		fmt.Fprintln(stderr, "mqbench run:", not[0])
		return exitUsage
	}
	if !set["addr"] && cfg.Base().Addr != "" {
		// The workload file's address; the flag overrides it.
		f.addr, set["addr"] = cfg.Base().Addr, true
	}
	if err := checkConnFlags(ad, f, set); err != nil {
		fmt.Fprintln(stderr, "mqbench run:", err)
		return exitUsage
	}
	if err := checkRepeat(f.repeat); err != nil {
		fmt.Fprintln(stderr, "mqbench run:", err)
		return exitUsage
	}
	spec := runSpec{adapter: ad, scenario: sc, cfg: cfg, profile: profile, addr: f.addr, management: f.management, out: f.out, preflight: f.preflight, verbose: f.verbose, report: true, topology: topo}
	if ad.external && f.addr == "" {
		// A broker mqbench started on this host: dial it (every node of a
		// cluster) and measure its CPU and memory.
		l, err := launch.New(launch.Options{Topology: topo})
		if err == nil {
			spec.addr, err = l.Addr(ad.launch)
		}
		if err == nil && spec.management == "" {
			// A cluster's management agents, one per node (ActiveMQ's
			// Jolokia): the adapter's default names a single host's.
			spec.management, err = l.ManagementURL(ad.launch)
		}
		if err != nil {
			fmt.Fprintln(stderr, "mqbench run:", err)
			return exitUsage
		}
		if topo == launch.TopologySingle {
			spec.addr = "" // the adapter's default, as before
		}
		spec.launcher = l
		spec.pids, _ = l.PIDs(ad.launch)
	}
	stopProfile, err := startCPUProfile(f.cpuprofile)
	if err != nil {
		fmt.Fprintln(stderr, "mqbench run:", err)
		return exitUsage
	}
	defer stopProfile(stderr)
	if f.repeat > 1 {
		return runRepeated(ctx, spec, f.repeat, stdout, stderr)
	}
	res, code := runOne(ctx, spec, stdout, stderr)
	if res != nil {
		printSummary(stdout, res)
	}
	return code
}

// buildConfig applies defaults, the workload file and the flags, in that
// order, and validates the result.
func buildConfig(sc scenarios.Scenario, f runFlags, set map[string]bool) (scenarios.Config, driver.Profile, error) {
	cfg := sc.DefaultConfig(f.quick)
	b := cfg.Base()
	// Set first, so that a workload naming another scenario is one error.
	b.Scenario = sc.Name()
	if f.workload != "" {
		if err := scenarios.LoadWorkload(f.workload, cfg); err != nil {
			if other := guessScenario(f.workload, sc, f.quick, err); other != "" {
				return nil, "", fmt.Errorf("%s: workload is for scenario %q, not %q (its fields are %s fields)", f.workload, other, sc.Name(), other)
			}
			return nil, "", err
		}
	}
	if set["rate"] {
		b.Rate = f.rate
	}
	if set["duration"] {
		b.Duration = f.duration
	}
	if set["size"] {
		b.Size = f.size
	}
	if set["producers"] {
		b.Producers = f.producers
	}
	if set["consumers"] {
		b.Consumers = f.consumers
	}
	if set["profile"] {
		b.Profile = f.profile
	}
	if b.Profile == "" {
		b.Profile = string(driver.Durable)
	}
	if err := cfg.Validate(); err != nil {
		var fe *scenarios.FieldError
		if errors.As(err, &fe) {
			return nil, "", fmt.Errorf("invalid --%s: %s", fe.Field, fe.Msg)
		}
		return nil, "", err
	}
	p, err := driver.ParseProfile(b.Profile)
	return cfg, p, err
}

// guessScenario names the other scenario a workload file without a
// scenario key was written for: when err reports only unknown fields and
// the file decodes without unknown fields into exactly that scenario's
// configuration. Else it returns "".
func guessScenario(path string, sc scenarios.Scenario, quick bool, err error) string {
	var wes scenarios.WorkloadErrors
	if !errors.As(err, &wes) {
		return ""
	}
	for _, we := range wes {
		if !strings.HasPrefix(we.Msg, "field ") || !strings.Contains(we.Msg, " not found") {
			return ""
		}
	}
	var found []string
	for _, o := range scenarioList() {
		if o.Name() == sc.Name() {
			continue
		}
		cfg := o.DefaultConfig(quick)
		if err := scenarios.LoadWorkload(path, cfg); !errors.As(err, &wes) {
			found = append(found, o.Name())
		}
	}
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

// checkConnFlags rejects, before anything connects, connection flags that
// cannot work: a --preflight that is not positive, --addr with the
// in-process memory broker, and an --addr that is not host:port or a
// comma-separated list of them (ports 1..65535; RabbitMQ takes amqp:// URLs
// too).
func checkConnFlags(ad adapter, f runFlags, set map[string]bool) error {
	if f.preflight <= 0 {
		return fmt.Errorf("invalid --preflight %s: must be > 0", f.preflight)
	}
	if !set["addr"] {
		return nil
	}
	if !ad.external {
		return fmt.Errorf("--addr does not apply to the %s broker (it runs in-process); leave it out", ad.name)
	}
	for _, p := range strings.Split(f.addr, ",") {
		if err := checkAddr(strings.TrimSpace(p), ad.launch == "rabbitmq"); err != nil {
			return fmt.Errorf("invalid --addr %q: %w", scenarios.Clip(f.addr), err)
		}
	}
	return nil
}

// checkAddr checks one host:port, or, when urls is set, an amqp:// or
// amqps:// URL whose port, if any, is valid.
func checkAddr(a string, urls bool) error {
	if urls && strings.Contains(a, "://") {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Hostname() == "" {
			return errors.New("want host:port or amqp://user:pass@host:port/vhost")
		}
		if p := u.Port(); p != "" {
			return checkPort(p)
		}
		return nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New("want host:port, e.g. 127.0.0.1:5672")
	}
	if host == "" && !urls {
		return errors.New("want host:port: the host is missing")
	}
	return checkPort(port)
}

func checkPort(p string) error {
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want a number from 1 to 65535", p)
	}
	return nil
}

// runSpec is one broker × scenario cell to run.
type runSpec struct {
	adapter   adapter
	scenario  scenarios.Scenario
	cfg       scenarios.Config
	profile   driver.Profile
	addr, out string
	// management is the broker's HTTP management URL (driver.Config).
	management string
	preflight  time.Duration
	verbose    bool
	// pids are broker processes whose CPU and memory the run records.
	pids []int
	// report also writes report.html beside result.json.
	report bool
	// topology is what the result records as the broker's topology.
	topology launch.Topology
	// launcher, when set, supplies the broker version when the protocol
	// does not tell it (Kafka) and its durability setting.
	launcher *launch.Launcher
	// repeat places the run among the repeats of its cell (nil: one run).
	repeat *result.Repeat
	// warmUp says how start-up work was kept out of the run
	// (result.Cost.WarmUp); "" when nothing was done.
	warmUp string
}

// runOne connects, runs the scenario and writes the result. It returns the
// result (nil when nothing ran) and the exit code. The output directory is
// checked and reserved (claimOut) before anything connects.
func runOne(ctx context.Context, s runSpec, stdout, stderr io.Writer) (*result.Result, int) {
	runID := newRunID()
	started := time.Now().UTC()
	res := &result.Result{
		SchemaVersion: result.SchemaVersion,
		ID:            fmt.Sprintf("%s-%016x", started.Format("20060102T150405Z"), runID),
		StartedAt:     started,
		Scenario:      s.scenario.Name(),
		Profile:       s.profile,
		Config:        s.cfg,
		Environment:   environment(),
		Broker:        result.Broker{Name: s.adapter.name, Title: s.adapter.title(), Addr: s.addr, Topology: topologyOf(s)},
		Repeat:        s.repeat,
	}
	out := s.out
	if out == "" {
		out = filepath.Join("results", res.ID)
	}
	release, err := claimOut(out, "result.json")
	if err != nil {
		fmt.Fprintln(stderr, "mqbench run:", err)
		return nil, exitUsage
	}
	defer release()
	logLevel := slog.LevelWarn
	if s.verbose {
		logLevel = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))

	pctx, cancel := context.WithTimeout(ctx, s.preflight)
	drv, err := s.adapter.new(pctx, driver.Config{Addr: s.addr, Profile: s.profile, Logger: log, ManagementURL: s.management})
	cancel()
	if err != nil {
		return res, preflightFailed(ctx, s, res, out, err, stderr)
	}
	defer drv.Close()
	prefix := fmt.Sprintf("mqb%08x", uint32(runID))
	describeBroker(ctx, s, drv, prefix, res)
	if why := profileMismatch(s.profile, res.Broker.Durability); why != "" {
		return res, refuseMismatch(s, res, out, why, stderr)
	}

	work, err := os.MkdirTemp("", "mqbench-work-")
	if err != nil {
		fmt.Fprintln(stderr, "mqbench run:", err)
		return nil, exitUsage
	}
	defer os.RemoveAll(work)

	prog := newProgress(stderr, fmt.Sprintf("%s/%s", s.adapter.name, s.scenario.Name()))
	env := scenarios.Env{
		Driver: drv, Profile: s.profile, RunID: runID,
		Prefix:  prefix,
		WorkDir: work, Log: log, Progress: prog.update,
	}
	if s.topology == launch.TopologyCluster && s.launcher != nil {
		// A cluster mqbench started: scenarios may kill, stop and start
		// its nodes; the driver says who leads and who is in sync.
		rr, _ := drv.(driver.ReplicaReader)
		env.Cluster = cluster.Launched(launchedNodes{l: s.launcher, broker: s.adapter.launch}, rr)
	}
	idle := measureIdle(ctx, s.pids)
	meter := startCostMeter(s.pids)
	env.Reference, env.BrokerCPU = referenceBroker(), meter.cpu
	env.BrokerRSS, env.BrokerDisk = brokerRSS(s.pids), brokerDisk(s.launcher, s.adapter.launch, len(s.pids) > 0)
	got, runErr := s.scenario.Run(ctx, env, s.cfg)
	prog.done()
	res.Cost = meter.stop()
	if res.Cost != nil {
		res.Cost.Idle, res.Cost.WarmUp = idle, s.warmUp
	}
	res.FinishedAt = time.Now().UTC()
	if got != nil {
		res.Latency, res.Throughput, res.Accounting = got.Latency, got.Throughput, got.Accounting
		res.Metrics, res.Timeline, res.Series = got.Metrics, got.Timeline, got.Series
		res.Verdict = got.Verdict
		res.Notes = append(res.Notes, got.Notes...)
		if got.Config != nil {
			res.Config = got.Config
		}
	}
	code := settle(ctx, res, runErr)
	code = writeOutputs(s, res, out, code, stdout, stderr)
	if runErr != nil {
		fmt.Fprintf(stderr, "mqbench run: %s/%s: %s\n", s.adapter.name, s.scenario.Name(), oneLine(runErr.Error()))
	}
	return res, code
}

// topologyOf is the topology a run records: the memory broker has none;
// an address listing several nodes is a cluster whatever --topology said.
func topologyOf(s runSpec) string {
	if !s.adapter.external {
		return ""
	}
	if strings.Contains(s.addr, ",") {
		return string(launch.TopologyCluster)
	}
	if s.topology == "" {
		return string(launch.TopologySingle)
	}
	return string(s.topology)
}

// incomplete is the violation an interrupted run's verdict carries.
const incomplete = "INCOMPLETE: the run was interrupted, so its accounting is not final (messages in flight count as lost) and it has no verdict"

// describeBroker fills res.Broker from the driver, the launcher's status
// (when mqbench started the broker) and what a confirm promises as read back
// from the broker.
func describeBroker(ctx context.Context, s runSpec, drv driver.Driver, prefix string, res *result.Result) {
	info := drv.Info()
	res.Broker = result.Broker{Name: info.Name, Title: info.Title, Client: info.Client, ClientVersion: info.ClientVersion,
		Protocol: info.Protocol, Version: info.BrokerVersion, Addr: s.addr, Topology: topologyOf(s), Capabilities: info.Capabilities}
	if s.launcher != nil && s.adapter.external {
		if sts, err := s.launcher.Status(ctx, []string{s.adapter.launch}); err == nil && len(sts) == 1 {
			if res.Broker.Version == "" && sts[0].Version != "" {
				res.Broker.Version = sts[0].Version
				res.Notes = append(res.Notes, "broker version read by the launcher, not over the protocol")
			}
			if sts[0].Durability != "" {
				res.Notes = append(res.Notes, "broker disk setting: "+sts[0].Durability)
			}
			for _, n := range sts[0].Nodes {
				res.Notes = append(res.Notes, fmt.Sprintf("cluster node %s (ports %s, alive %t) at the start: %s", n.Name, joinPorts(n.Ports), n.Alive, dash(n.Role)))
			}
		}
	}
	du, note := readDurability(ctx, drv, prefix)
	res.Broker.Durability = du
	if note != "" {
		res.Notes = append(res.Notes, note)
	}
}

// settle sets the result's status and verdict from how the run ended and
// returns the exit code. An interruption wins over an error it caused (a
// connection cut short by Ctrl-C is not a failure): the user interrupted.
func settle(ctx context.Context, res *result.Result, runErr error) int {
	switch {
	case ctx.Err() != nil:
		res.Status = result.StatusInterrupted
		res.Accounting.Complete = false
		res.Verdict.Pass = false
		res.Verdict.Violations = append(res.Verdict.Violations, incomplete)
		if runErr != nil {
			res.Error = oneLine(runErr.Error())
		}
		return exitInterrupted
	case runErr != nil:
		res.Status, res.Error = result.StatusFailed, oneLine(runErr.Error())
		res.Verdict.Pass = false
		res.Verdict.Violations = append(res.Verdict.Violations, "run failed: "+res.Error)
		if errors.Is(runErr, driver.ErrUnreachable) || errors.Is(runErr, store.ErrUnreachable) {
			return exitUnreachable
		}
		return exitFailed
	}
	res.Status = result.StatusComplete
	if !res.Verdict.Pass {
		return exitFailed
	}
	return exitOK
}

// preflightFailed records a run whose broker connection failed (so a matrix
// report shows the cell) and returns the exit code: 130 when the user
// interrupted, 2 for an unsupported combination, else 3.
func preflightFailed(ctx context.Context, s runSpec, res *result.Result, out string, err error, stderr io.Writer) int {
	addr := s.addr
	if addr == "" {
		addr = s.adapter.defaultAddr
	}
	msg := oneLine(fmt.Sprintf("%s at %s: %v", s.adapter.name, addr, err))
	fmt.Fprintln(stderr, "mqbench run:", msg)
	res.FinishedAt = time.Now().UTC()
	code := exitUnreachable
	switch {
	case ctx.Err() != nil:
		res.Status, res.Error = result.StatusInterrupted, msg
		res.Verdict = result.Verdict{Violations: []string{incomplete + "; interrupted while connecting: " + msg}}
		code = exitInterrupted
	default:
		if errors.Is(err, errors.ErrUnsupported) {
			code = exitUsage
		}
		res.Status, res.Error = result.StatusFailed, msg
		res.Verdict = result.Verdict{Violations: []string{"could not run: " + msg}}
	}
	if werr := result.Write(out, sanitize(res)); werr != nil {
		fmt.Fprintln(stderr, "mqbench run: writing result:", oneLine(werr.Error()))
		return writeFailed(code)
	}
	return code
}

// refuseMismatch records a run refused before its scenario started because
// the broker's read-back disk setting contradicts the profile (see
// profileMismatch), so that a matrix report shows the cell, and returns
// exitMismatch.
func refuseMismatch(s runSpec, res *result.Result, out, why string, stderr io.Writer) int {
	msg := oneLine(fmt.Sprintf("%s: %s; %s", s.adapter.name, why, mismatchHint(s.adapter.name, s.profile, s.launcher != nil && len(s.pids) > 0)))
	fmt.Fprintln(stderr, "mqbench run:", msg)
	res.FinishedAt = time.Now().UTC()
	res.Status, res.Error = result.StatusFailed, msg
	res.Verdict = result.Verdict{Violations: []string{"not run: " + msg}}
	if err := result.Write(out, sanitize(res)); err != nil {
		fmt.Fprintln(stderr, "mqbench run: writing result:", oneLine(err.Error()))
	}
	return exitMismatch
}

// writeOutputs writes result.json and, when asked, report.html, and
// returns the exit code: a write that failed never leaves it 0.
func writeOutputs(s runSpec, res *result.Result, out string, code int, stdout, stderr io.Writer) int {
	if err := result.Write(out, sanitize(res)); err != nil {
		fmt.Fprintln(stderr, "mqbench run: writing result:", oneLine(err.Error()))
		return writeFailed(code)
	}
	fmt.Fprintf(stdout, "result: %s\n", filepath.Join(out, "result.json"))
	if s.report {
		path, err := report.WriteHTML(out, []*result.Result{res}, report.Options{Scenarios: catalog.Presentations(), Claims: claims.Table()})
		if err != nil {
			fmt.Fprintln(stderr, "mqbench run: writing report:", oneLine(err.Error()))
			return writeFailed(code)
		}
		fmt.Fprintf(stdout, "report: %s\n", path)
	}
	return code
}

// writeFailed is the exit code after an output could not be written: the
// run's own code when it already says something went wrong, else 2 (the
// output directory is bad input), never 0.
func writeFailed(code int) int {
	if code == exitOK {
		return exitUsage
	}
	return code
}

// sanitize makes every error string of res one line (see oneLine) and
// every number finite (see scrubNonFinite), so that res encodes, and
// returns res.
func sanitize(res *result.Result) *result.Result {
	scrubNonFinite(res)
	res.Error = oneLine(res.Error)
	for i, v := range res.Verdict.Violations {
		res.Verdict.Violations[i] = oneLine(v)
	}
	for i, n := range res.Notes {
		res.Notes[i] = oneLine(n)
	}
	return res
}

func newRunID() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return uint64(time.Now().UnixNano())
	}
	return binary.BigEndian.Uint64(b[:])
}

func environment() result.Environment {
	host, _ := os.Hostname()
	env := result.Environment{Host: host, CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		for _, line := range strings.Split(string(b), "\n") {
			if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
				env.MemMiB = kb / 1024
				break
			}
		}
	}
	return env
}
