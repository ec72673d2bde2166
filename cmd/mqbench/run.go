package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, documented in the README and `mqbench help`.
const (
	exitOK          = 0   // success
	exitFailed      = 1   // a run finished with a failed verdict
	exitUsage       = 2   // bad usage or input
	exitUnreachable = 3   // a broker or a scenario database was unreachable
	exitMismatch    = 4   // the broker's disk setting, read back from it, contradicts the profile; nothing ran
	exitInterrupted = 130 // interrupted; partial results written
)

const usage = `mqbench — message broker benchmark with real brokers and honest numbers

Usage:
  mqbench <command> [flags]

Commands:
  list      adapters (with capabilities) and scenarios
  run       run one scenario against one broker, write result.json and report.html
  matrix    run every broker × scenario cell, one broker at a time; summary and report
  report    rebuild DIR/report.html from the results under DIR (--compare DIR2)
  up        start brokers (native, or docker compose when a Docker engine answers)
  down      stop brokers started by mqbench up
  status    show each broker: running, version, pid, ports, handshake
  help      this text

Run 'mqbench <command> --help' for a command's flags.

Exit codes: 0 ok, 1 a verdict failed, 2 bad usage or input (also: no
command given, or a result or report that could not be written), 3 a broker
or database unreachable, 4 the broker's disk setting, read back from it,
contradicts the profile (nothing ran; the message says how to restart it),
130 interrupted (partial results written, status
interrupted, verdict INCOMPLETE).
`

const shortUsage = `usage: mqbench <command> [flags]  (commands: list, run, matrix, report, up, down, status, help)
Run 'mqbench help' for what each does, 'mqbench <command> --help' for its flags.
`

// run is the whole CLI: it parses args, runs one command and returns the
// exit code. It stops the command on SIGINT/SIGTERM through ctx.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		// A command is missing: bad usage, so a short hint on stderr and
		// exit 2; `mqbench help` prints the full usage on stdout.
		fmt.Fprint(stderr, shortUsage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "list":
		return cmdList(ctx, rest, stdout, stderr)
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "matrix":
		return cmdMatrix(ctx, rest, stdout, stderr)
	case "report":
		return cmdReport(ctx, rest, stdout, stderr)
	case "up":
		return cmdUp(ctx, rest, stdout, stderr)
	case "down":
		return cmdDown(ctx, rest, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "mqbench: unknown command %q (valid: list, run, matrix, report, up, down, status, help)\n", cmd)
	return exitUsage
}

// parseFlags parses args into fs and rejects positional arguments. --help
// prints the command's usage once, to stdout; a bad flag is one line on
// stderr. It returns -1 to continue, or the exit code to return.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	if code := parseFlagsAllowArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mqbench %s: unexpected argument %q (see mqbench %s --help)\n", fs.Name(), fs.Arg(0), fs.Name())
		return exitUsage
	}
	return -1
}

// parseFlagsAllowArgs is parseFlags for commands that take positional
// arguments.
func parseFlagsAllowArgs(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	usage := fs.Usage
	// The flag package prints the usage on every error; mqbench prints it
	// only for --help, and a parse error as one line.
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "mqbench %s: %v (see mqbench %s --help)\n", fs.Name(), err, fs.Name())
		return exitUsage
	}
	fs.SetOutput(stderr)
	return -1
}
