// Command mqbench runs business scenarios against real message brokers
// through one driver interface and reports latency, throughput, accounting
// and a selection recommendation. Run `mqbench help` for the commands.
package main

import (
	"context"
	"os"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }
