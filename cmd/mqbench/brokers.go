package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mqbench/mqbench/compose/launch"
)

// brokerArgs are the parsed flags shared by up, down and status.
type brokerArgs struct {
	names      []string
	opts       launch.Options
	jsonOutput bool // status only
}

// parseBrokerArgs parses the flags of `mqbench up|down|status`. It returns
// done=true with the exit code when the command must stop here (help
// printed on stdout: 0; bad usage: 2, with the error on stderr).
func parseBrokerArgs(cmd string, args []string, stdout, stderr io.Writer) (brokerArgs, int, bool) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	brokers := fs.String("brokers", "all", "comma-separated brokers: "+strings.Join(launch.Names(), ",")+", or all")
	mode := fs.String("mode", "auto", "auto (compose when docker info answers, else native), compose or native")
	topology := fs.String("topology", "single", "single (one node per broker) or cluster (each broker's replicated HA topology: "+strings.Join(launch.NamesFor(launch.TopologyCluster), ", ")+")")
	home := fs.String("home", "", "state directory for configs, data, logs and pid files (default $MQBENCH_HOME, else the user cache dir + /mqbench)")
	var asyncFlush *bool
	var timeout *time.Duration
	var jsonOut *bool
	switch cmd {
	case "up":
		asyncFlush = fs.Bool("async-flush", false, "start RocketMQ with ASYNC_FLUSH and ActiveMQ with a periodic journal sync (the fast profile); default is the durable SYNC_FLUSH / sync-always")
		timeout = fs.Duration("timeout", 3*time.Minute, "how long each broker may take to answer its handshakes")
	case "down":
		timeout = fs.Duration("timeout", 45*time.Second, "graceful stop time per process before SIGKILL")
	case "status":
		jsonOut = fs.Bool("json", false, "print JSON instead of a table")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mqbench %s [flags]\n\n%s\n\nFlags:\n", cmd, brokerCmdHelp(cmd))
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return brokerArgs{}, code, true
	}
	topo, err := launch.ParseTopology(*topology)
	if err != nil {
		fmt.Fprintf(stderr, "mqbench %s: --topology: %v\n", cmd, err)
		return brokerArgs{}, exitUsage, true
	}
	names, err := launch.ParseNamesFor(*brokers, topo)
	if err != nil {
		fmt.Fprintf(stderr, "mqbench %s: --brokers: %v\n", cmd, err)
		return brokerArgs{}, exitUsage, true
	}
	m, err := launch.ParseMode(*mode)
	if err != nil {
		fmt.Fprintf(stderr, "mqbench %s: --mode: %v\n", cmd, err)
		return brokerArgs{}, exitUsage, true
	}
	a := brokerArgs{names: names, opts: launch.Options{Home: *home, Mode: m, Topology: topo}}
	if timeout != nil {
		if *timeout <= 0 {
			fmt.Fprintf(stderr, "mqbench %s: --timeout must be positive, got %s\n", cmd, *timeout)
			return brokerArgs{}, exitUsage, true
		}
		if cmd == "up" {
			a.opts.StartTimeout = *timeout
		} else {
			a.opts.StopTimeout = *timeout
		}
	}
	if asyncFlush != nil {
		a.opts.AsyncFlush = *asyncFlush
	}
	if jsonOut != nil {
		a.jsonOutput = *jsonOut
	}
	return a, exitOK, false
}

// brokerCmdHelp is the description printed by `mqbench CMD --help`.
func brokerCmdHelp(cmd string) string {
	switch cmd {
	case "up":
		return `Starts the brokers on 127.0.0.1 and waits until each answers a real protocol
handshake on its ports: ` + brokerPorts() + `.
Brokers already answering are reported and left alone. Native mode needs Java 17+
and Maven (ActiveMQ, Kafka and RocketMQ jars come from Maven Central into ~/.m2)
and the Debian package rabbitmq-server (installed with apt-get when run as root). Exit 3 when a broker does not come up.`
	case "down":
		return `Stops the brokers mqbench up started (by pid: SIGTERM, then SIGKILL) and waits
until their ports are free. Data is kept. Brokers mqbench did not start are left running.`
	case "status":
		return `Shows each broker: state, version, pids, ports and the outcome of a real protocol
handshake on every port. Exit 3 when a requested broker is not healthy.`
	}
	return ""
}

// brokerPorts lists each broker's handshake ports from the launcher's
// table, e.g. "ActiveMQ Classic 61613+61616, RabbitMQ 5672".
func brokerPorts() string {
	var parts []string
	for _, s := range launch.Specs() {
		parts = append(parts, s.Title+" "+strings.ReplaceAll(joinPorts(s.Ports(launch.ModeNative)), ",", "+"))
	}
	return strings.Join(parts, ", ")
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// cmdUp starts brokers: `mqbench up [--brokers a,b|all] [--mode auto|compose|native]`.
func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a, code, done := parseBrokerArgs("up", args, stdout, stderr)
	if done {
		return code
	}
	l, err := launch.New(a.opts)
	if err != nil {
		fmt.Fprintf(stderr, "mqbench up: %v\n", err)
		return exitUsage
	}
	begin := time.Now()
	fmt.Fprintf(stdout, "mqbench up: %s (%s mode, %s topology, state in %s)\n", strings.Join(a.names, ", "), l.Mode(ctx), l.Topology(), l.Home())
	if err := l.Up(ctx, a.names, stdout); err != nil {
		fmt.Fprintf(stderr, "mqbench up: %v\n", err)
		return exitUnreachable
	}
	fmt.Fprintf(stdout, "mqbench up: all answering after %.1fs\n", time.Since(begin).Seconds())
	st, err := l.Status(ctx, a.names)
	if err != nil {
		fmt.Fprintf(stderr, "mqbench up: status: %v\n", err)
		return exitUnreachable
	}
	writeStatusTable(stdout, st)
	return exitOK
}

// cmdDown stops the brokers mqbench started.
func cmdDown(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a, code, done := parseBrokerArgs("down", args, stdout, stderr)
	if done {
		return code
	}
	l, err := launch.New(a.opts)
	if err != nil {
		fmt.Fprintf(stderr, "mqbench down: %v\n", err)
		return exitUsage
	}
	if err := l.Down(ctx, a.names, stdout); err != nil {
		fmt.Fprintf(stderr, "mqbench down: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// cmdStatus shows each broker's state, version, pids, ports and handshakes.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a, code, done := parseBrokerArgs("status", args, stdout, stderr)
	if done {
		return code
	}
	l, err := launch.New(a.opts)
	if err != nil {
		fmt.Fprintf(stderr, "mqbench status: %v\n", err)
		return exitUsage
	}
	st, err := l.Status(ctx, a.names)
	if err != nil {
		fmt.Fprintf(stderr, "mqbench status: %v\n", err)
		return exitUsage
	}
	if a.jsonOutput {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			fmt.Fprintf(stderr, "mqbench status: %v\n", err)
			return exitFailed
		}
	} else {
		writeStatusTable(stdout, st)
	}
	for _, s := range st {
		if !s.Healthy {
			return exitUnreachable
		}
	}
	return exitOK
}

// stateOf summarises a Status in one word.
func stateOf(s launch.Status) string {
	switch {
	case s.Healthy && s.Mode == launch.ModeNative && !s.Managed:
		return "healthy (not started by mqbench)"
	case s.Healthy:
		return "healthy"
	case s.Running || s.Managed:
		return "unhealthy"
	}
	return "stopped"
}

// writeStatusTable prints one row per broker and one indented line per
// handshake.
func writeStatusTable(w io.Writer, st []launch.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tSTATE\tVERSION\tPID\tPORTS\tDISK SYNC")
	for _, s := range st {
		pids := make([]string, len(s.PIDs))
		for i, p := range s.PIDs {
			pids[i] = strconv.Itoa(p)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, stateOf(s), dash(s.Version),
			dash(strings.Join(pids, ",")), joinPorts(s.Ports()), dash(s.Durability))
	}
	tw.Flush()
	for _, s := range st {
		for _, e := range s.Endpoints {
			mark := "FAIL"
			if e.Handshake.OK {
				mark = "ok"
			}
			fmt.Fprintf(w, "  %s %d %s: %s %s\n", s.Name, e.Port, e.Protocol, mark, e.Handshake.Detail)
		}
		for _, n := range s.Nodes {
			state := "down"
			if n.Alive {
				state = "pid " + strconv.Itoa(n.PID)
			}
			fmt.Fprintf(w, "  %s %s (ports %s, %s): %s\n", s.Name, n.Name, joinPorts(n.Ports), state, dash(n.Role))
		}
		if s.Detail != "" {
			fmt.Fprintf(w, "  %s: %s\n", s.Name, s.Detail)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "  %s: note: %s\n", s.Name, n)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
