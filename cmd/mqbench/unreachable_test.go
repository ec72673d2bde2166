package main

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// hungListener accepts TCP connections and never answers, like a frozen
// broker. It returns the address and a stop func.
func hungListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestUnreachableBrokers checks that every real adapter fails a run with
// exit code 3 naming the broker and address, within the preflight bound,
// when the broker refuses connections or accepts them and never answers.
func TestUnreachableBrokers(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for preflight timeouts")
	}
	for _, a := range adapters() {
		if !a.external {
			continue
		}
		for _, kind := range []string{"refused", "hung"} {
			t.Run(a.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				addr := closedAddr(t)
				if kind == "hung" {
					addr = hungListener(t)
				}
				start := time.Now()
				code, _, stderr := runCLI(t, "run", "--broker", a.name, "--scenario", "pubsub", "--quick",
					"--addr", addr, "--preflight", "3s", "--out", t.TempDir())
				took := time.Since(start)
				if code != exitUnreachable {
					t.Errorf("exit %d, want %d; stderr: %s", code, exitUnreachable, stderr)
				}
				if !strings.Contains(stderr, a.name) || !strings.Contains(stderr, addr) {
					t.Errorf("stderr does not name broker and address: %s", stderr)
				}
				// Named once: the adapter's error does not repeat the prefix.
				if n := strings.Count(stderr, a.name+" at "); n != 1 {
					t.Errorf("stderr names %q %d times, want once: %s", a.name+" at ", n, stderr)
				}
				if n := strings.Count(strings.TrimSuffix(stderr, "\n"), "\n") + 1; n != 1 {
					t.Errorf("stderr is %d lines, want 1: %q", n, stderr)
				}
				// The bound is the preflight flag plus slack for a loaded
				// 2-core machine; a hang would take far longer.
				if took > 30*time.Second {
					t.Errorf("took %s, want within the preflight bound", took)
				}
			})
		}
	}
}

// TestUnreachableDatabase: a scenario whose PostgreSQL database_url refuses
// connections fails the run with exit code 3 and one line naming it.
func TestUnreachableDatabase(t *testing.T) {
	addr := closedAddr(t)
	wl := writeFile(t, "pg.yaml", "scenario: async\ndatabase_url: postgres://u@"+addr+"/db?sslmode=disable\n")
	code, _, stderr := runCLI(t, "run", "--broker", "memory", "--scenario", "async", "--quick",
		"--workload", wl, "--out", t.TempDir())
	if code != exitUnreachable {
		t.Fatalf("exit %d, want %d (stderr %q)", code, exitUnreachable, stderr)
	}
	var errLine string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "mqbench run:") {
			errLine = l
		}
	}
	if !strings.Contains(errLine, "PostgreSQL at "+addr+"/db") || !strings.Contains(errLine, "database unreachable") {
		t.Errorf("stderr %q: want one line naming PostgreSQL at %s/db as unreachable", stderr, addr)
	}
}
