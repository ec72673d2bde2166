package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/mqbench/mqbench/claims"
	"github.com/mqbench/mqbench/report"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/catalog"
)

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	compare := fs.String("compare", "", "second results directory to compare against DIR")
	weights := fs.String("weights", "", "advice priorities, e.g. latency=3,throughput=1,reliability=5,cost=1 (default "+report.DefaultWeights().String()+")")
	title := fs.String("title", "", "report title")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mqbench report DIR [--compare DIR2] [--weights ...]\n\nWrites DIR/report.html from every result.json under DIR: one self-contained file.\n\nFlags:")
		fs.PrintDefaults()
	}
	// The directory may come before or after the flags.
	var dir string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		dir, args = args[0], args[1:]
	}
	if code := parseFlagsAllowArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if dir == "" && fs.NArg() == 1 {
		dir = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mqbench report: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if dir == "" {
		fmt.Fprintln(stderr, "mqbench report: a results directory is required (usage: mqbench report DIR)")
		return exitUsage
	}
	w, err := report.ParseWeights(*weights)
	if err != nil {
		fmt.Fprintln(stderr, "mqbench report:", err)
		return exitUsage
	}
	results, err := result.LoadDir(dir)
	if err != nil {
		fmt.Fprintln(stderr, "mqbench report:", err)
		return exitUsage
	}
	opts := report.Options{Title: *title, Weights: w, Label: dir, Scenarios: catalog.Presentations(), Claims: claims.Table()}
	if *compare != "" {
		other, err := result.LoadDir(*compare)
		if err != nil {
			fmt.Fprintln(stderr, "mqbench report: --compare:", err)
			return exitUsage
		}
		opts.Compare, opts.CompareLabel = other, *compare
	}
	path, err := report.WriteHTML(dir, results, opts)
	if err != nil {
		fmt.Fprintln(stderr, "mqbench report:", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "report: %s (%d results)\n", path, len(results))
	return exitOK
}
