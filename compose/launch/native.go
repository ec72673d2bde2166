package launch

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const probeTimeout = 5 * time.Second

// livePID returns the pid of p when its pid file names a live process whose
// command line matches.
func (l *Launcher) livePID(b instance, p procSpec) (int, bool) {
	pid := readPID(filepath.Join(b.dir, p.pidFile))
	if pid == 0 {
		return 0, false
	}
	return pid, processAlive(pid, append(slices.Clone(p.markers), b.dir))
}

func (l *Launcher) logTail(b instance) string {
	var parts []string
	for _, rel := range b.logs {
		p := filepath.Join(b.dir, rel)
		if t := tailFile(p, 15); t != "" {
			parts = append(parts, "--- last lines of "+p+"\n"+t)
		}
	}
	return strings.Join(parts, "\n")
}

// statusOne inspects one broker; it changes nothing.
func (l *Launcher) statusOne(ctx context.Context, name string, mode Mode) Status {
	b := l.broker(name)
	b.checks = b.checksFor(mode)
	st := Status{Name: name, Mode: mode, Topology: b.Topology, Addr: b.Addr(), Management: b.ManagementURL(), Endpoints: make([]Endpoint, len(b.checks))}
	var missing []string
	if mode == ModeNative {
		for _, p := range b.procs {
			if pid, ok := l.livePID(b, p); ok {
				st.PIDs = append(st.PIDs, pid)
			} else {
				missing = append(missing, p.name)
			}
		}
		st.Managed = len(st.PIDs) > 0
		st.Running = len(missing) == 0
	}
	var wg sync.WaitGroup
	for i, c := range b.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.Endpoints[i] = Endpoint{Port: c.port, Protocol: c.protocol,
				Handshake: c.probe(ctx, net.JoinHostPort(host, strconv.Itoa(c.port)), probeTimeout)}
		}()
	}
	wg.Wait()
	st.Healthy = true
	answered := false
	for _, e := range st.Endpoints {
		st.Healthy = st.Healthy && e.Handshake.OK
		answered = answered || e.Handshake.OK
		if e.Handshake.Version != "" && st.Version == "" {
			st.Version = e.Handshake.Version
		}
	}
	switch {
	case mode == ModeNative && st.Managed && len(missing) > 0:
		st.Detail = "not running: " + strings.Join(missing, ", ")
	case mode == ModeNative && !st.Managed:
		st.Running = answered
		if answered {
			st.Detail = "not started by mqbench"
		}
	case mode == ModeCompose:
		st.Running = answered
	}
	if st.Version == "" && b.version != nil && len(st.PIDs) > 0 {
		st.Version = b.version(st.PIDs[0])
	}
	if st.Managed {
		st.Durability = b.durability(b.dir)
	}
	if len(b.Nodes) > 0 {
		st.Nodes = l.nodeStatuses(ctx, b)
	}
	if mode == ModeNative {
		st.Notes = b.Exposed()
	}
	return st
}

// upOne starts one broker natively unless it already answers.
func (l *Launcher) upOne(ctx context.Context, name string, w *syncWriter) error {
	return l.upInstance(ctx, name, l.broker(name), w)
}

// upInstance is upOne on the instance b of broker name.
func (l *Launcher) upInstance(ctx context.Context, name string, b instance, w *syncWriter) error {
	st := l.statusOne(ctx, name, ModeNative)
	if st.Healthy && st.Running {
		if st.Managed && len(b.Nodes) > 0 {
			// Every node answers; start is idempotent and also restores
			// what a handshake cannot see (RabbitMQ's cluster membership).
			if err := b.start(ctx, l, b, w); err != nil {
				return &StartError{Broker: name, Err: err, LogTail: l.logTail(b)}
			}
		}
		if !st.Managed {
			w.printf("%s: already answering on port %s, not started by mqbench: reusing it", name, joinInts(st.Ports()))
			return nil
		}
		w.printf("%s: already running (pid %s, version %s)", name, joinInts(st.PIDs), nonEmpty(st.Version, "?"))
		want := b.wantDurability(l.opts.AsyncFlush)
		if want == "" || st.Durability == want {
			return nil
		}
		if !l.opts.Reconfigure {
			w.printf("%s: warning: it runs with %s, not %s; stop it (mqbench down --brokers %s) and start it again to change", name, st.Durability, want, name)
			return nil
		}
		w.printf("%s: it runs with %s, not %s: restarting it (data kept)", name, st.Durability, want)
		if err := l.downOne(ctx, name, w, false); err != nil {
			return &StartError{Broker: name, Err: fmt.Errorf("stop to reconfigure: %w", err)}
		}
		st = l.statusOne(ctx, name, ModeNative)
	}
	if !st.Managed {
		var busy []int
		for _, p := range append(st.Ports(), b.extraPorts...) {
			if portBusy(ctx, host, p) {
				busy = append(busy, p)
			}
		}
		if len(busy) > 0 {
			return &StartError{Broker: name, Err: fmt.Errorf("port %s already in use by a program mqbench did not start (and it does not answer the %s handshake): stop it first", joinInts(busy), name)}
		}
	}
	begin := time.Now()
	w.printf("%s: starting (state in %s)", name, b.dir)
	if err := l.prepare(b); err != nil {
		return &StartError{Broker: name, Err: err}
	}
	if err := b.start(ctx, l, b, w); err != nil {
		return &StartError{Broker: name, Err: err, LogTail: l.logTail(b)}
	}
	st = l.statusOne(ctx, name, ModeNative)
	w.printf("%s: ready in %.1fs (pid %s, version %s, ports %s)", name, time.Since(begin).Seconds(), joinInts(st.PIDs), nonEmpty(st.Version, "?"), joinInts(st.Ports()))
	return nil
}

// prepare creates the broker's directories and writes its config files.
func (l *Launcher) prepare(b instance) error {
	dirs := []string{b.dir}
	for _, n := range b.Nodes {
		dirs = append(dirs, b.nodeDir(n))
	}
	for _, base := range dirs {
		for _, d := range []string{"conf", "data", "logs"} {
			if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
				return fmt.Errorf("create %s: %w", d, err)
			}
		}
	}
	files, err := renderFiles(b.Spec, b.dir, l.opts.AsyncFlush)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(b.dir, f.path), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// waitReady polls until every check answers, a process of procs dies, ctx
// ends or Options.StartTimeout passes.
func (l *Launcher) waitReady(ctx context.Context, b instance, procs []procSpec, checks []check) error {
	return poll(ctx, l.opts.StartTimeout, 500*time.Millisecond, func() error {
		for _, p := range procs {
			if _, ok := l.livePID(b, p); !ok {
				return permanent{fmt.Errorf("%s process exited during start", p.name)}
			}
		}
		var failing []string
		for _, c := range checks {
			h := c.probe(ctx, net.JoinHostPort(host, strconv.Itoa(c.port)), 3*time.Second)
			if !h.OK {
				failing = append(failing, fmt.Sprintf("port %d: %s", c.port, h.Detail))
			}
		}
		if len(failing) > 0 {
			return fmt.Errorf("no handshake within %s: %s", l.opts.StartTimeout, strings.Join(failing, "; "))
		}
		return nil
	})
}

// jvmCommon are the JVM flags every Java broker process gets.
func jvmCommon() []string {
	return []string{"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true", "-XX:+ExitOnOutOfMemoryError"}
}

// startProc spawns argv as process p of b unless it already runs.
func (l *Launcher) startProc(b instance, p procSpec, logName string, env, argv []string) error {
	if _, ok := l.livePID(b, p); ok {
		return nil
	}
	_, err := spawn(b.dir, filepath.Join(b.dir, "logs", logName), filepath.Join(b.dir, p.pidFile), env, argv)
	return err
}

// downOne stops the processes of one broker mqbench started (in reverse
// start order) and waits until its ports are free. With kill it sends
// SIGKILL at once and does not wait for ports.
func (l *Launcher) downOne(ctx context.Context, name string, w *syncWriter, kill bool) error {
	b := l.broker(name)
	stopped := 0
	for i := len(b.procs) - 1; i >= 0; i-- {
		p := b.procs[i]
		pid, ok := l.livePID(b, p)
		if !ok {
			continue
		}
		if err := stopPID(ctx, pid, append(slices.Clone(p.markers), b.dir), l.opts.StopTimeout, kill); err != nil {
			return fmt.Errorf("stop %s (pid %d): %w", p.name, pid, err)
		}
		stopped++
		_ = os.Remove(filepath.Join(b.dir, p.pidFile))
	}
	if kill {
		if stopped == 0 {
			return fmt.Errorf("%s: no process started by mqbench is running", name)
		}
		w.printf("%s: killed", name)
		return nil
	}
	if b.afterStop != nil && stopped > 0 {
		b.afterStop(ctx)
	}
	var ports []int
	for _, c := range b.checks {
		ports = append(ports, c.port)
	}
	ports = append(ports, b.extraPorts...)
	if stopped == 0 {
		if st := l.statusOne(ctx, name, ModeNative); st.Running {
			w.printf("%s: not started by mqbench (no pid file in %s): left running", name, b.dir)
			return nil
		}
		w.printf("%s: not running", name)
		return nil
	}
	if busy := waitPortsFree(ctx, host, ports, 15*time.Second); len(busy) > 0 {
		return fmt.Errorf("stopped, but port %s still answers", joinInts(busy))
	}
	w.printf("%s: stopped", name)
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
