package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/compose/launch"
)

func cmdList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mqbench list\n\nLists the broker adapters (with the broker release native mode runs) and their declared capabilities, and the scenarios.")
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	fmt.Fprintln(stdout, "Brokers (capabilities are declared by each adapter and verified by its conformance suite):")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tDEFAULT ADDR\tNATIVE BROKER\tCLIENT\tCAPABILITIES")
	for _, a := range adapters() {
		info := a.info()
		native := "-"
		if s, ok := launch.Find(a.launch); ok {
			native = s.NativeRelease()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s %s\t%s\n", a.name, a.defaultAddr, native, info.Client, info.ClientVersion, capString(info.Capabilities))
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\nScenarios:")
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, s := range scenarioList() {
		fmt.Fprintf(tw, "  %s\t%s\n", s.Name(), s.Summary())
	}
	tw.Flush()
	return exitOK
}

func capString(c driver.Capabilities) string {
	var s string
	add := func(ok bool, name string) {
		if ok {
			if s != "" {
				s += ","
			}
			s += name
		}
	}
	add(c.Nack, "nack")
	add(c.RedeliveryFlag, "redelivery-flag")
	add(c.PerKeyOrder, "per-key-order")
	add(c.CompetingConsumers, "competing")
	add(c.FanOut, "fan-out")
	add(c.Replay, "replay")
	add(c.Persistent, "persistent")
	add(c.MaxLengthReject, "max-length-reject")
	add(c.NativeTransaction, "native-tx")
	add(c.Depth, "depth")
	if s == "" {
		s = "-"
	}
	return s
}
