package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// startCPUProfile starts Go's CPU profiler writing to path, for `go tool
// pprof`; an empty path profiles nothing. The file must not exist yet: like
// a result, a profile is never overwritten. The returned stop ends the
// profile, closes the file and reports a failure to close it on stderr;
// call it once, when the run is over (also after an interruption).
func startCPUProfile(path string) (stop func(stderr io.Writer), err error) {
	if path == "" {
		return func(io.Writer) {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("--cpuprofile %s: the file exists (never overwritten; choose another name)", path)
		}
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func(stderr io.Writer) {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "mqbench run: --cpuprofile %s: %v\n", path, err)
		}
	}, nil
}
