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
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/report"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/catalog"
	"github.com/mqbench/mqbench/scenarios/store"
)

// runFlags are the flags of `mqbench run`.
type runFlags struct {
	broker, scenario, addr, profile, workload, out string
	quick, verbose                                 bool
	rate                                           float64
	duration                                       time.Duration
	size, producers, consumers                     int
	preflight                                      time.Duration
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.broker, "broker", "", "broker adapter (see `mqbench list`)")
	fs.StringVar(&f.scenario, "scenario", "", "scenario (see `mqbench list`)")
	fs.StringVar(&f.addr, "addr", "", "broker address host:port (default: the broker's standard local port)")
	fs.StringVar(&f.profile, "profile", "", "durability profile: durable (default), fast, unsafe")
	fs.StringVar(&f.workload, "workload", "", "workload YAML file with the scenario's settings")
	fs.StringVar(&f.out, "out", "", "directory for result.json (default results/<UTC time>-<id>)")
	fs.BoolVar(&f.quick, "quick", false, "short profile that finishes well under a minute")
	fs.BoolVar(&f.verbose, "v", false, "log diagnostics to stderr")
	fs.Float64Var(&f.rate, "rate", 0, "target rate per second (0 with the flag set = as fast as possible)")
	fs.DurationVar(&f.duration, "duration", 0, "measured duration, e.g. 30s")
	fs.IntVar(&f.size, "size", 0, "message size in bytes")
	fs.IntVar(&f.producers, "producers", 0, "producer goroutines")
	fs.IntVar(&f.consumers, "consumers", 0, "consumer goroutines per group")
	fs.DurationVar(&f.preflight, "preflight", 15*time.Second, "bound on connecting to the broker")
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
	spec := runSpec{adapter: ad, scenario: sc, cfg: cfg, profile: profile, addr: f.addr, out: f.out, preflight: f.preflight, verbose: f.verbose, report: true}
	if ad.external && f.addr == "" {
		// A broker mqbench started on this host: measure its CPU and memory.
		if l, err := launch.New(launch.Options{}); err == nil {
			spec.launcher = l
			spec.pids, _ = l.PIDs(ad.name)
		}
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
	if f.workload != "" {
		if err := scenarios.LoadWorkload(f.workload, cfg); err != nil {
			return nil, "", err
		}
	}
	b := cfg.Base()
	if b.Scenario != "" && b.Scenario != sc.Name() {
		return nil, "", fmt.Errorf("%s: workload is for scenario %q, not %q", f.workload, b.Scenario, sc.Name())
	}
	b.Scenario = sc.Name()
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

// runSpec is one broker × scenario cell to run.
type runSpec struct {
	adapter   adapter
	scenario  scenarios.Scenario
	cfg       scenarios.Config
	profile   driver.Profile
	addr, out string
	preflight time.Duration
	verbose   bool
	// pids are broker processes whose CPU and memory the run records.
	pids []int
	// report also writes report.html beside result.json.
	report bool
	// launcher, when set, supplies the broker version when the protocol
	// does not tell it (Kafka) and its durability setting.
	launcher *launch.Launcher
}

// runOne connects, runs the scenario and writes the result. It returns the
// result (nil when nothing ran) and the exit code.
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
		Broker:        result.Broker{Name: s.adapter.name, Addr: s.addr},
	}
	out := s.out
	if out == "" {
		out = filepath.Join("results", res.ID)
	}
	logLevel := slog.LevelWarn
	if s.verbose {
		logLevel = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))

	pctx, cancel := context.WithTimeout(ctx, s.preflight)
	drv, err := s.adapter.new(pctx, driver.Config{Addr: s.addr, Profile: s.profile, Logger: log})
	cancel()
	if err != nil {
		addr := s.addr
		if addr == "" {
			addr = s.adapter.defaultAddr
		}
		fmt.Fprintf(stderr, "mqbench run: %s at %s: %v\n", s.adapter.name, addr, err)
		code := exitUnreachable
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			code = exitUsage
		case ctx.Err() != nil:
			code = exitInterrupted
		}
		// Record the failed cell, so a matrix report shows it.
		res.Status, res.Error, res.FinishedAt = result.StatusFailed, fmt.Sprintf("%s at %s: %v", s.adapter.name, addr, err), time.Now().UTC()
		res.Verdict = result.Verdict{Violations: []string{"could not run: " + res.Error}}
		if werr := result.Write(out, res); werr != nil {
			fmt.Fprintln(stderr, "mqbench run: writing result:", werr)
		}
		return res, code
	}
	defer drv.Close()
	info := drv.Info()
	res.Broker = result.Broker{Name: info.Name, Client: info.Client, ClientVersion: info.ClientVersion,
		Protocol: info.Protocol, Version: info.BrokerVersion, Addr: s.addr, Capabilities: info.Capabilities}
	if s.launcher != nil && s.adapter.external {
		if sts, err := s.launcher.Status(ctx, []string{s.adapter.name}); err == nil && len(sts) == 1 {
			if res.Broker.Version == "" && sts[0].Version != "" {
				res.Broker.Version = sts[0].Version
				res.Notes = append(res.Notes, "broker version read by the launcher, not over the protocol")
			}
			if sts[0].Durability != "" {
				res.Notes = append(res.Notes, "broker disk setting: "+sts[0].Durability)
			}
		}
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
		Prefix:  fmt.Sprintf("mqb%08x", uint32(runID)),
		WorkDir: work, Log: log, Progress: prog.update,
	}
	meter := startCostMeter(s.pids)
	got, runErr := s.scenario.Run(ctx, env, s.cfg)
	prog.done()
	res.Cost = meter.stop()
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
	code := exitOK
	switch {
	case runErr != nil:
		res.Status, res.Error = result.StatusFailed, runErr.Error()
		res.Verdict.Pass = false
		res.Verdict.Violations = append(res.Verdict.Violations, "run failed: "+runErr.Error())
		code = exitFailed
		if errors.Is(runErr, driver.ErrUnreachable) || errors.Is(runErr, store.ErrUnreachable) {
			code = exitUnreachable
		}
	case ctx.Err() != nil:
		res.Status = result.StatusInterrupted
		res.Accounting.Complete = false
		code = exitInterrupted
	default:
		res.Status = result.StatusComplete
		if !res.Verdict.Pass {
			code = exitFailed
		}
	}
	if err := result.Write(out, res); err != nil {
		fmt.Fprintln(stderr, "mqbench run: writing result:", err)
		return res, exitUsage
	}
	fmt.Fprintf(stdout, "result: %s\n", filepath.Join(out, "result.json"))
	if s.report {
		if path, err := report.WriteHTML(out, []*result.Result{res}, report.Options{Scenarios: catalog.Presentations()}); err != nil {
			fmt.Fprintln(stderr, "mqbench run: writing report:", err)
		} else {
			fmt.Fprintf(stdout, "report: %s\n", path)
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "mqbench run: %s/%s: %v\n", s.adapter.name, s.scenario.Name(), runErr)
	}
	return res, code
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
