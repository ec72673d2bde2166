// Package launch starts, stops and inspects the four brokers mqbench
// measures (ActiveMQ Classic, RabbitMQ, Kafka, RocketMQ) on loopback, either
// natively (apt packages and Maven Central jars, no Docker) or through Docker
// Compose.
//
// Native mode keeps everything in one state directory (Options.Home, default
// $MQBENCH_HOME or <user cache dir>/mqbench): per broker a directory with
// conf/, data/, logs/ and one pid file per process. Jars are resolved with
// Maven into the local Maven repository (~/.m2), so a second start only
// launches the JVMs. Only processes whose pid file names them (and whose
// command line matches) are ever signalled: a broker someone else started on
// the same port is reused, never stopped.
//
// A Launcher is safe for concurrent use by several goroutines; Up, Down,
// Restart and Kill also take an exclusive file lock in the state directory so
// that two mqbench processes do not start the same broker twice.
package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// ParseNames parses a comma-separated broker list; "" and "all" mean every
// broker. Names are case-insensitive, duplicates are dropped and the result
// keeps the order of Names. An unknown name is an error listing valid ones.
func ParseNames(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "all") {
		return Names(), nil
	}
	want := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		n := strings.ToLower(strings.TrimSpace(part))
		if n == "" {
			return nil, fmt.Errorf("empty broker name in %q (valid: %s, or all)", s, strings.Join(Names(), ", "))
		}
		if n == "all" {
			return Names(), nil
		}
		if !slices.Contains(Names(), n) {
			return nil, fmt.Errorf("unknown broker %q (valid: %s, or all)", n, strings.Join(Names(), ", "))
		}
		want[n] = true
	}
	var out []string
	for _, n := range Names() {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// Mode selects how brokers run.
type Mode string

// Modes. ModeAuto resolves to ModeCompose when a Docker engine answers
// `docker info`, else to ModeNative.
const (
	ModeAuto    Mode = "auto"
	ModeCompose Mode = "compose"
	ModeNative  Mode = "native"
)

// ParseMode parses "auto", "compose" or "native" ("" means auto).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", ModeAuto:
		return ModeAuto, nil
	case ModeCompose, ModeNative:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (valid: auto, compose, native)", s)
}

// Options configure a Launcher. The zero value is usable.
type Options struct {
	// Home is the state directory; "" means DefaultHome().
	Home string
	// Mode is auto, compose or native; "" means auto.
	Mode Mode
	// AsyncFlush selects the brokers' "fast" disk settings for brokers
	// started from now on: RocketMQ ASYNC_FLUSH and ActiveMQ's KahaDB journal
	// synced periodically. The default (false) is what the durable profile
	// needs: RocketMQ SYNC_FLUSH and a journal fsync before every receipt.
	AsyncFlush bool
	// Reconfigure makes Up restart a broker mqbench started whose disk
	// setting is not the one AsyncFlush selects (its data is kept). Without
	// it, Up leaves such a broker running and prints a warning.
	Reconfigure bool
	// StartTimeout bounds how long one broker may take to answer its
	// handshakes after launch; 0 means 3 minutes.
	StartTimeout time.Duration
	// StopTimeout bounds a graceful stop before SIGKILL; 0 means 45 seconds.
	StopTimeout time.Duration
	// Java is the java executable; "" means $JAVA_HOME/bin/java, else PATH.
	Java string
	// Maven is the mvn executable; "" means PATH.
	Maven string
	// Topology is single (default, "" too) or cluster: which form of each
	// broker Up, Down, Status, Restart, Kill and PIDs act on. A cluster's
	// state lives in <Home>/<broker>-cluster/<node>.
	Topology Topology
	// ComposeFile is the compose file for compose mode; "" means the copy
	// embedded in mqbench, written to <Home>/compose/docker-compose.yml.
	ComposeFile string
}

// DefaultHome returns $MQBENCH_HOME, else <os.UserCacheDir()>/mqbench.
func DefaultHome() (string, error) {
	if h := os.Getenv("MQBENCH_HOME"); h != "" {
		return filepath.Abs(h)
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set MQBENCH_HOME (%w)", err)
	}
	return filepath.Join(c, "mqbench"), nil
}

// Launcher starts, stops and inspects brokers. Create it with New.
type Launcher struct {
	opts Options
	home string

	modeOnce sync.Once
	mode     Mode
}

// New validates opts and returns a Launcher. It creates nothing on disk yet.
func New(opts Options) (*Launcher, error) {
	home := opts.Home
	if home == "" {
		h, err := DefaultHome()
		if err != nil {
			return nil, err
		}
		home = h
	}
	home, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("state directory %q: %w", opts.Home, err)
	}
	m, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	opts.Mode = m
	t, err := ParseTopology(string(opts.Topology))
	if err != nil {
		return nil, err
	}
	opts.Topology = t
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 45 * time.Second
	}
	return &Launcher{opts: opts, home: home}, nil
}

// Home returns the absolute state directory.
func (l *Launcher) Home() string { return l.home }

// Topology returns the topology the launcher acts on.
func (l *Launcher) Topology() Topology { return l.opts.Topology }

// Addr returns the address (a comma-separated list for a cluster) the
// adapter of broker name dials for the launcher's topology.
func (l *Launcher) Addr(name string) (string, error) {
	s, err := FindTopology(name, l.opts.Topology)
	if err != nil {
		return "", err
	}
	return s.Addr(), nil
}

// ManagementURL returns Spec.ManagementURL of the broker named name in
// the launcher's topology.
func (l *Launcher) ManagementURL(name string) (string, error) {
	s, err := FindTopology(name, l.opts.Topology)
	if err != nil {
		return "", err
	}
	return s.ManagementURL(), nil
}

// Mode resolves the launch mode. For ModeAuto it runs `docker info` (bounded
// to 10 s) once and caches the answer.
func (l *Launcher) Mode(ctx context.Context) Mode {
	l.modeOnce.Do(func() {
		l.mode = l.opts.Mode
		if l.mode == ModeAuto {
			l.mode = ModeNative
			if dockerAnswers(ctx) {
				l.mode = ModeCompose
			}
		}
	})
	return l.mode
}

func dockerAnswers(ctx context.Context) bool {
	if _, err := exec.LookPath("docker"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info").Run() == nil
}

// StartError reports a broker that did not come up; LogTail holds the last
// lines of its logs.
type StartError struct {
	Broker  string
	Err     error
	LogTail string
}

func (e *StartError) Error() string {
	s := fmt.Sprintf("%s did not come up: %v", e.Broker, e.Err)
	if e.LogTail != "" {
		s += "\n" + e.LogTail
	}
	return s
}

func (e *StartError) Unwrap() error { return e.Err }

// Endpoint is one port of a broker and the outcome of its handshake.
type Endpoint struct {
	Port      int       `json:"port"`
	Protocol  string    `json:"protocol"`
	Handshake Handshake `json:"handshake"`
}

// Status describes one broker as Status found it.
type Status struct {
	Name string `json:"name"`
	Mode Mode   `json:"mode"`
	// Topology is single or cluster.
	Topology Topology `json:"topology,omitempty"`
	// Addr is what its adapter dials (driver.Config.Addr): one host:port,
	// or a cluster's list of the nodes clients dial.
	Addr string `json:"addr,omitempty"`
	// Management is what its adapter needs in driver.Config.ManagementURL
	// (Spec.ManagementURL), when the default does not reach it.
	Management string `json:"management,omitempty"`
	// Nodes lists every node of a cluster with its role (nil for a single
	// node).
	Nodes []NodeStatus `json:"nodes,omitempty"`
	// Managed is true when mqbench's pid files name live processes of it.
	Managed bool `json:"managed"`
	// Running is true when its processes are alive (native, managed) or, for
	// a broker mqbench did not start, when any endpoint answers.
	Running bool `json:"running"`
	// Healthy is true when every endpoint answered its protocol handshake.
	Healthy   bool       `json:"healthy"`
	PIDs      []int      `json:"pids,omitempty"`
	Version   string     `json:"version,omitempty"`
	Endpoints []Endpoint `json:"endpoints"`
	// Durability names the disk-sync setting of the config a broker mqbench
	// started runs with ("" for others).
	Durability string `json:"durability,omitempty"`
	Detail     string `json:"detail,omitempty"`
	// Notes are facts about how it runs that need the reader's attention;
	// in native mode: every port it listens on beyond loopback, and why.
	Notes []string `json:"notes,omitempty"`
}

// Ports returns the ports of the endpoints.
func (s Status) Ports() []int {
	var p []int
	for _, e := range s.Endpoints {
		p = append(p, e.Port)
	}
	return p
}

// Up starts the named brokers (nil means all) and waits, bounded by
// Options.StartTimeout per broker, until each answers its handshakes. A broker
// already answering is reported and left alone. Brokers start concurrently;
// progress lines (may be nil) are written from several goroutines through a
// lock. The error joins one *StartError per broker that failed.
func (l *Launcher) Up(ctx context.Context, names []string, progress io.Writer) error {
	names, err := l.checkNames(names)
	if err != nil {
		return err
	}
	w := newSyncWriter(progress)
	if l.Mode(ctx) == ModeCompose {
		return l.composeUp(ctx, names, w)
	}
	unlock, err := l.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := l.prerequisites(ctx, names, w); err != nil {
		return err
	}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.upOne(ctx, n, w)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Down stops the named brokers (nil means all) that mqbench started: SIGTERM,
// then SIGKILL after Options.StopTimeout, then waits until their ports are
// free. Brokers it did not start are reported and left running. Data is kept.
func (l *Launcher) Down(ctx context.Context, names []string, progress io.Writer) error {
	names, err := l.checkNames(names)
	if err != nil {
		return err
	}
	w := newSyncWriter(progress)
	if l.Mode(ctx) == ModeCompose {
		return l.composeDown(ctx, names, w)
	}
	unlock, err := l.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	for _, n := range names {
		if err := l.downOne(ctx, n, w, false); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// Restart stops one broker mqbench started and starts it again with the same
// data directory (for persistence tests), waiting until it answers.
func (l *Launcher) Restart(ctx context.Context, name string, progress io.Writer) error {
	names, err := l.checkNames([]string{name})
	if err != nil {
		return err
	}
	if l.Mode(ctx) == ModeCompose {
		return fmt.Errorf("restart %s: only native mode is supported (use docker compose restart)", name)
	}
	w := newSyncWriter(progress)
	unlock, err := l.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := l.downOne(ctx, names[0], w, false); err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	if err := l.prerequisites(ctx, names, w); err != nil {
		return err
	}
	return l.upOne(ctx, names[0], w)
}

// Kill sends SIGKILL to every process of a broker mqbench started and waits
// (bounded) until they are gone, simulating a crash; data is kept and Up
// starts it again.
func (l *Launcher) Kill(ctx context.Context, name string) error {
	names, err := l.checkNames([]string{name})
	if err != nil {
		return err
	}
	unlock, err := l.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return l.downOne(ctx, names[0], newSyncWriter(nil), true)
}

// PIDs returns the live process ids of a broker mqbench started natively
// (RocketMQ: name server and broker), for reading CPU and RSS from /proc. It
// fails when none is running.
func (l *Launcher) PIDs(name string) ([]int, error) {
	names, err := l.checkNames([]string{name})
	if err != nil {
		return nil, err
	}
	b := l.broker(names[0])
	var pids []int
	for _, p := range b.procs {
		if pid, ok := l.livePID(b, p); ok {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("%s: no process started by mqbench is running (state dir %s)", name, l.home)
	}
	return pids, nil
}

// Status inspects the named brokers (nil means all) concurrently: processes,
// ports, a protocol handshake per port and the version. It never changes
// anything and each handshake is bounded (5 s).
func (l *Launcher) Status(ctx context.Context, names []string) ([]Status, error) {
	names, err := l.checkNames(names)
	if err != nil {
		return nil, err
	}
	mode := l.Mode(ctx)
	out := make([]Status, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = l.statusOne(ctx, n, mode)
		}()
	}
	wg.Wait()
	return out, nil
}

func (l *Launcher) checkNames(names []string) ([]string, error) {
	return ParseNamesFor(strings.Join(names, ","), l.opts.Topology)
}

// syncWriter serialises progress lines from concurrent broker starts.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newSyncWriter(w io.Writer) *syncWriter {
	if w == nil {
		w = io.Discard
	}
	if sw, ok := w.(*syncWriter); ok {
		return sw
	}
	return &syncWriter{w: w}
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format+"\n", args...)
}
