package main

import (
	"context"
	"fmt"
	"io"
)

// cmdUp starts brokers (placeholder until the launcher lands).
func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "mqbench up: not implemented yet")
	return 2
}

// cmdDown stops brokers (placeholder until the launcher lands).
func cmdDown(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "mqbench down: not implemented yet")
	return 2
}

// cmdStatus shows brokers (placeholder until the launcher lands).
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "mqbench status: not implemented yet")
	return 2
}
