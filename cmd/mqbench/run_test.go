package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
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
	// Written for async, without a scenario key: one line, not one per field.
	asyncFields := writeFile(t, "async.yaml", "rate: 50\nmodes: [mq]\nemail_time: 1ms\nsms_time: 1ms\nmax_in_flight: 10\nready_timeout: 5s\n")
	twoDocs := writeFile(t, "two.yaml", "rate: 50\n---\nrate: 60\n")
	huge := writeFile(t, "huge.yaml", "profile: "+strings.Repeat("x", 3<<20)+"\n")
	nanRate := writeFile(t, "nan.yaml", "rate: .nan\n")
	infCapacity := writeFile(t, "inf.yaml", "scenario: decoupling\ninventory_capacity: .inf\n")
	wrap := writeFile(t, "wrap.yaml", "duration: 2562047h\nwarmup: 1h\n")
	aFile := writeFile(t, "file", "x")
	held := t.TempDir()
	if err := os.WriteFile(filepath.Join(held, "result.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	heldMatrix := t.TempDir()
	if err := os.WriteFile(filepath.Join(heldMatrix, "summary.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	busy := t.TempDir() // locked by a live process: this one
	if err := os.WriteFile(filepath.Join(busy, lockName), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pubsub := []string{"run", "--broker", "memory", "--scenario", "pubsub", "--quick"}
	rabbit := []string{"run", "--broker", "rabbitmq", "--scenario", "pubsub", "--quick", "--out", t.TempDir()}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no command", nil, exitUsage, "usage: mqbench <command>"},
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
		{"failover on a single node", []string{"run", "--broker", "memory", "--scenario", "failover"}, exitUsage, "failover: availability not measured: failover runs only on a cluster topology"},
		{"matrix of failover on a single node", []string{"matrix", "--scenarios", "failover"}, exitUsage, "nothing to run on a single-node topology (failover: availability not measured"},
		{"matrix bad profile", []string{"matrix", "--profile", "unsafe"}, exitUsage, `unknown profile "unsafe" (valid: durable, fast)`},
		{"matrix bad weights", []string{"matrix", "--weights", "latency=x"}, exitUsage, "want a number"},
		{"cpu profile over an existing file", with(pubsub, "--cpuprofile", aFile), exitUsage, "the file exists (never overwritten"},
		{"cpu profile in a missing directory", with(pubsub, "--cpuprofile", "/nonexistent/cpu.pprof"), exitUsage, "--cpuprofile: open /nonexistent/cpu.pprof"},
		{"report without dir", []string{"report"}, exitUsage, "a results directory is required"},
		{"report empty dir", []string{"report", t.TempDir()}, exitUsage, "no result.json found"},
		{"report bad weights", []string{"report", t.TempDir(), "--weights", "speed=3"}, exitUsage, `unknown criterion "speed"`},
		// 1: non-finite numbers.
		{"NaN rate flag", with(pubsub, "--rate", "NaN", "--duration", "1s"), exitUsage, "invalid --rate: must be a finite number"},
		{"infinite rate flag", with(pubsub, "--rate", "+Inf"), exitUsage, "invalid --rate: must be a finite number"},
		{"NaN rate in YAML", with(pubsub, "--workload", nanRate), exitUsage, "nan.yaml:1: rate: must be a finite number"},
		{"infinite scenario float in YAML", []string{"run", "--broker", "memory", "--scenario", "decoupling", "--workload", infCapacity}, exitUsage, "inf.yaml:2: inventory_capacity: must be a finite number"},
		// 2 and 3: absurd magnitudes.
		{"unreachable rate", with(pubsub, "--rate", "1e12"), exitUsage, "invalid --rate: must be 0 (as fast as possible) or between"},
		{"tiny rate", with(pubsub, "--rate", "1e-300"), exitUsage, "invalid --rate"},
		{"huge rate in transaction", []string{"run", "--broker", "memory", "--scenario", "transaction", "--rate", "1e300"}, exitUsage, "invalid --rate"},
		{"tiny rate in peakshaving", []string{"run", "--broker", "memory", "--scenario", "peakshaving", "--rate", "0.001"}, exitUsage, "invalid --rate"},
		{"duration of years", with(pubsub, "--duration", "87600h"), exitUsage, "invalid --duration: must be at most 24h"},
		{"duration plus warm-up wrapping", with(pubsub, "--workload", wrap), exitUsage, "wrap.yaml:1: duration: must be at most 24h"},
		// 5: --out checked before connecting, never overwritten.
		{"out is a file", with(pubsub, "--out", aFile), exitUsage, "is not a directory"},
		{"out under a file", with(pubsub, "--out", filepath.Join(aFile, "sub")), exitUsage, "cannot be created"},
		{"out holds a result", with(pubsub, "--out", held), exitUsage, "already holds a result (result.json)"},
		{"out in use", with(pubsub, "--out", busy), exitUsage, "in use by another mqbench run"},
		{"out is a file, broker never dialled", []string{"run", "--broker", "rabbitmq", "--scenario", "pubsub", "--addr", "127.0.0.1:1", "--out", aFile}, exitUsage, "is not a directory"},
		{"matrix out is a file", []string{"matrix", "--brokers", "rabbitmq", "--scenarios", "async", "--out", aFile}, exitUsage, "is not a directory"},
		{"matrix out holds a summary", []string{"matrix", "--brokers", "rabbitmq", "--scenarios", "async", "--out", heldMatrix}, exitUsage, "already holds a result (summary.json)"},
		// 7: usage errors are exit 2, before any connection.
		{"zero preflight", with(rabbit, "--preflight", "0"), exitUsage, "invalid --preflight 0s: must be > 0"},
		{"negative preflight", with(rabbit, "--preflight", "-1s"), exitUsage, "invalid --preflight -1s"},
		{"addr without port", with(rabbit, "--addr", "127.0.0.1"), exitUsage, `invalid --addr "127.0.0.1": want host:port`},
		{"addr port too large", with(rabbit, "--addr", "127.0.0.1:70000"), exitUsage, `port "70000": want a number from 1 to 65535`},
		{"addr port zero", with(rabbit, "--addr", "127.0.0.1:0"), exitUsage, `port "0"`},
		{"amqp URL port too large", with(rabbit, "--addr", "amqp://u:p@127.0.0.1:99999/"), exitUsage, `port "99999"`},
		{"kafka list with a bad entry", []string{"run", "--broker", "kafka", "--scenario", "pubsub", "--addr", "127.0.0.1:9092,127.0.0.1", "--out", t.TempDir()}, exitUsage, "invalid --addr"},
		{"addr with the memory broker", with(pubsub, "--addr", "127.0.0.1:5672"), exitUsage, "--addr does not apply to the memory broker"},
		// 11: workload files.
		{"workload for another scenario without the key", with(pubsub, "--workload", asyncFields), exitUsage, `async.yaml: workload is for scenario "async", not "pubsub"`},
		{"workload with two documents", with(pubsub, "--workload", twoDocs), exitUsage, "two.yaml:2: a second YAML document"},
		{"workload with a huge value", with(pubsub, "--workload", huge), exitUsage, "bytes left out"},
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
			if len(stderr) > 1000 {
				t.Errorf("stderr is %d bytes, want a short line", len(stderr))
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
	if du := r.Broker.Durability; du == nil || !du.Verified || du.Settings["storage"] != "memory" {
		t.Fatalf("durability read back %+v, want the memory broker's verified in-memory promise", du)
	}
	if r.Broker.Title != "in-memory reference" {
		t.Errorf("broker title %q, want the adapter's Describe().Title", r.Broker.Title)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Fatalf("report.html: %v", err)
	}
	if !strings.Contains(out, "lost 0") {
		t.Fatalf("summary lacks accounting: %s", out)
	}
}

// TestRunCPUProfile checks that --cpuprofile writes a profile pprof can
// read, and that the run itself is unchanged.
func TestRunCPUProfile(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	code, out, stderr := runCLI(t, "run", "--broker", "memory", "--scenario", "pubsub", "--quick",
		"--rate", "2000", "--duration", "1s", "--out", dir, "--cpuprofile", prof)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:%s\nstderr:%s", code, out, stderr)
	}
	f, err := os.Open(prof)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A profile is a gzipped protocol buffer naming its sample types.
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the profile is not gzipped: %v", err)
	}
	body, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("the profile does not decompress: %v", err)
	}
	if !bytes.Contains(body, []byte("cpu")) || !bytes.Contains(body, []byte("nanoseconds")) {
		t.Fatalf("%d bytes without the CPU sample type", len(body))
	}
	if _, err := result.Read(filepath.Join(dir, "result.json")); err != nil {
		t.Fatalf("the run's result: %v", err)
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
