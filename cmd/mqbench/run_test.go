package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/report/result"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadInput(t *testing.T) {
	badYAML := writeFile(t, "bad.yaml", "rate: 10\nspeed: 3\n")
	negRate := writeFile(t, "neg.yaml", "rate: -5\n")
	wrongScenario := writeFile(t, "other.yaml", "scenario: async\n")
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no command", nil, exitUsage, "Usage"},
		{"unknown command", []string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{"run without broker", []string{"run", "--scenario", "pubsub"}, exitUsage, "--broker and --scenario are required"},
		{"unknown broker", []string{"run", "--broker", "zeromq", "--scenario", "pubsub"}, exitUsage, `unknown broker "zeromq" (valid:`},
		{"unknown scenario", []string{"run", "--broker", "memory", "--scenario", "nope"}, exitUsage, `unknown scenario "nope" (valid: pubsub`},
		{"unknown flag", []string{"run", "--brokr", "memory"}, exitUsage, "flag provided but not defined: -brokr"},
		{"negative rate flag", []string{"run", "--broker", "memory", "--scenario", "pubsub", "--rate", "-1"}, exitUsage, "invalid --rate"},
		{"zero duration flag", []string{"run", "--broker", "memory", "--scenario", "pubsub", "--duration", "0s"}, exitUsage, "invalid --duration"},
		{"bad profile", []string{"run", "--broker", "memory", "--scenario", "pubsub", "--profile", "turbo"}, exitUsage, "unknown profile"},
		{"workload unknown field", []string{"run", "--broker", "memory", "--scenario", "pubsub", "--workload", badYAML}, exitUsage, "bad.yaml:2: field speed not found"},
		{"workload negative rate", []string{"run", "--broker", "memory", "--scenario", "pubsub", "--workload", negRate}, exitUsage, "neg.yaml:1: rate: must be ≥ 0"},
		{"workload for another scenario", []string{"run", "--broker", "memory", "--scenario", "pubsub", "--workload", wrongScenario}, exitUsage, `workload is for scenario "async"`},
		{"workload missing", []string{"run", "--broker", "memory", "--scenario", "pubsub", "--workload", "/nonexistent.yaml"}, exitUsage, "/nonexistent.yaml: cannot read workload"},
		{"matrix unknown broker", []string{"matrix", "--brokers", "rabbitmq,zeromq"}, exitUsage, `unknown broker "zeromq"`},
		{"matrix unknown scenario", []string{"matrix", "--scenarios", "async,bogus"}, exitUsage, `unknown scenario "bogus"`},
		{"matrix bad profile", []string{"matrix", "--profile", "unsafe"}, exitUsage, `unknown profile "unsafe" (valid: durable, fast)`},
		{"matrix bad weights", []string{"matrix", "--weights", "latency=x"}, exitUsage, "want a number"},
		{"report without dir", []string{"report"}, exitUsage, "a results directory is required"},
		{"report empty dir", []string{"report", t.TempDir()}, exitUsage, "no result.json found"},
		{"report bad weights", []string{"report", t.TempDir(), "--weights", "speed=3"}, exitUsage, `unknown criterion "speed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.wantErr)
			}
			// Bad input is one line (only the bare command prints the usage).
			if n := strings.Count(strings.TrimSuffix(stderr, "\n"), "\n") + 1; tt.args != nil && n != 1 {
				t.Errorf("stderr is %d lines, want 1: %q", n, stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("stderr shows a panic: %s", stderr)
			}
		})
	}
}

func TestHelpEverywhere(t *testing.T) {
	for _, cmd := range []string{"list", "run", "matrix", "report", "up", "down", "status"} {
		t.Run(cmd, func(t *testing.T) {
			code, out, stderr := runCLI(t, cmd, "--help")
			if code != exitOK || !strings.Contains(out, "usage: mqbench "+cmd) || stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q (want the usage on stdout only)", code, out, stderr)
			}
		})
	}
	if code, out, _ := runCLI(t, "help"); code != exitOK || !strings.Contains(out, "Exit codes") {
		t.Fatalf("help: %d %q", code, out)
	}
}

func TestListNamesAdaptersAndScenarios(t *testing.T) {
	code, out, _ := runCLI(t, "list")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, a := range adapters() {
		if !strings.Contains(out, a.name) {
			t.Errorf("list lacks adapter %s", a.name)
		}
	}
	for _, s := range launch.Specs() {
		if !strings.Contains(out, s.NativeRelease()) {
			t.Errorf("list lacks %s's native release %q", s.Name, s.NativeRelease())
		}
	}
	for _, s := range scenarioList() {
		if !strings.Contains(out, s.Name()) {
			t.Errorf("list lacks scenario %s", s.Name())
		}
	}
}

func TestRunMemoryPubsubAccountsEveryMessage(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "run", "--broker", "memory", "--scenario", "pubsub", "--quick",
		"--rate", "2000", "--duration", "1s", "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:%s\nstderr:%s", code, out, stderr)
	}
	r, err := result.Read(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := r.Accounting
	if r.Status != result.StatusComplete || !r.Verdict.Pass {
		t.Fatalf("status %s verdict %+v", r.Status, r.Verdict)
	}
	if a.Sent == 0 || a.Sent != a.Confirmed || a.Received != a.Sent || a.Lost != 0 || a.Duplicated != 0 || a.Reordered != 0 {
		t.Fatalf("accounting %+v", a)
	}
	if r.Latency["end_to_end"] == nil || r.Latency["end_to_end"].Count == 0 {
		t.Fatal("no end-to-end latency")
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Fatalf("report.html: %v", err)
	}
	if !strings.Contains(out, "lost 0") {
		t.Fatalf("summary lacks accounting: %s", out)
	}
}

func TestRunInterruptedWritesPartialResult(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	var errb syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"run", "--broker", "memory", "--scenario", "pubsub", "--rate", "1000", "--duration", "1m", "--out", dir}, &out, &errb)
	}()
	// Cancel once the run has produced something.
	for i := 0; i < 200 && !strings.Contains(errb.String(), "load"); i++ {
		waitABit()
	}
	cancel()
	if code := <-done; code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitInterrupted, errb.String())
	}
	r, err := result.Read(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != result.StatusInterrupted || r.Accounting.Complete {
		t.Fatalf("status %s complete %v", r.Status, r.Accounting.Complete)
	}
}

func waitABit() { <-time.After(50 * time.Millisecond) }

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
