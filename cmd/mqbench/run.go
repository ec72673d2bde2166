package main

import (
	"context"
	"fmt"
	"io"
)

// run is the whole CLI: it parses args, runs the command and returns the exit
// code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: mqbench <command> [flags]")
		return 2
	}
	switch args[0] {
	case "up":
		return cmdUp(ctx, args[1:], stdout, stderr)
	case "down":
		return cmdDown(ctx, args[1:], stdout, stderr)
	case "status":
		return cmdStatus(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "mqbench: unknown command %q\n", args[0])
	return 2
}
