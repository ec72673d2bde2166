package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mqbench/mqbench/report/result"
)

// memoryRun is a short memory-broker run writing to out.
func memoryRun(out string) []string {
	return []string{"run", "--broker", "memory", "--scenario", "pubsub", "--quick", "--rate", "500", "--duration", "1s", "--out", out}
}

// TestOutNeverOverwritten: a second run into a directory that holds a
// result, after the first or at the same time, is refused with exit 2 and
// the first result stays as it was.
func TestOutNeverOverwritten(t *testing.T) {
	tests := []struct {
		name       string
		concurrent bool
	}{
		{"sequential reuse", false},
		{"two runs at once", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			codes := make([]int, 2)
			errs := make([]string, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				runIt := func() {
					var out, errb bytes.Buffer
					codes[i] = run(context.Background(), memoryRun(dir), &out, &errb)
					errs[i] = errb.String()
				}
				if !tt.concurrent {
					runIt()
					continue
				}
				wg.Add(1)
				go func() { defer wg.Done(); runIt() }()
			}
			wg.Wait()
			ok, refused := 0, 0
			for i, c := range codes {
				switch {
				case c == exitOK:
					ok++
				case c == exitUsage && (strings.Contains(errs[i], "already holds a result") || strings.Contains(errs[i], "in use by another mqbench run")):
					refused++
				default:
					t.Errorf("run %d: exit %d, stderr %q", i, c, errs[i])
				}
			}
			if ok != 1 || refused != 1 {
				t.Fatalf("exit codes %v: want one 0 and one refusal (2)", codes)
			}
			r, err := result.Read(filepath.Join(dir, "result.json"))
			if err != nil || r.Status != result.StatusComplete {
				t.Fatalf("result: %v %+v", err, r)
			}
			if _, err := os.Stat(filepath.Join(dir, lockName)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("lock left behind: %v", err)
			}
		})
	}
}

// signalListener accepts TCP connections, never answers, and closes
// accepted once the first connection arrives.
func signalListener(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		var once sync.Once
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			once.Do(func() { close(accepted) })
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
	return ln.Addr().String(), accepted
}

// TestInterruptReportedAsInterrupted: Ctrl-C while connecting to the
// broker, while connecting to PostgreSQL, or during the load exits 130 with
// status interrupted and verdict INCOMPLETE, in result.json and on the
// console.
func TestInterruptReportedAsInterrupted(t *testing.T) {
	pgAddr, pgAccepted := signalListener(t)
	brokerAddr, brokerAccepted := signalListener(t)
	wl := writeFile(t, "pg.yaml", "scenario: async\ndatabase_url: postgres://u@"+pgAddr+"/db?sslmode=disable\n")
	tests := []struct {
		name  string
		args  []string
		ready func(stderr *syncBuffer) bool
	}{
		{"during the broker preflight", []string{"run", "--broker", "rabbitmq", "--scenario", "pubsub", "--addr", brokerAddr, "--preflight", "1m"},
			func(*syncBuffer) bool { return closed(brokerAccepted) }},
		{"during the PostgreSQL connect", []string{"run", "--broker", "memory", "--scenario", "async", "--quick", "--workload", wl},
			func(*syncBuffer) bool { return closed(pgAccepted) }},
		{"during the load", []string{"run", "--broker", "memory", "--scenario", "pubsub", "--rate", "1000", "--duration", "1m"},
			func(e *syncBuffer) bool { return strings.Contains(e.String(), "load") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out syncBuffer
			var errb syncBuffer
			done := make(chan int)
			go func() { done <- run(ctx, append(tt.args, "--out", dir), &out, &errb) }()
			for i := 0; i < 400 && !tt.ready(&errb); i++ {
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
			if r.Status != result.StatusInterrupted || r.Accounting.Complete || r.Verdict.Pass {
				t.Fatalf("status %s complete %v verdict %+v", r.Status, r.Accounting.Complete, r.Verdict)
			}
			if len(r.Verdict.Violations) == 0 || !strings.HasPrefix(r.Verdict.Violations[len(r.Verdict.Violations)-1], "INCOMPLETE") {
				t.Errorf("violations %q: want INCOMPLETE", r.Verdict.Violations)
			}
			if o := out.String(); strings.Contains(o, "verdict=PASS") || (strings.Contains(o, "verdict=") && !strings.Contains(o, "verdict=INCOMPLETE")) {
				t.Errorf("console: %s", o)
			}
		})
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// garbageListener answers every connection with reply and closes it:
// something that is not the expected server.
func garbageListener(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 512)
				_, _ = c.Read(buf)
				_, _ = c.Write([]byte(reply))
			}()
		}
	}()
	return ln.Addr().String()
}

// TestGarbageAnswersAreUnreachable: a PostgreSQL database_url or a broker
// address where something else answers is exit 3 alike, in one line.
func TestGarbageAnswersAreUnreachable(t *testing.T) {
	const http = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name string
		args func(addr string) []string
	}{
		{"PostgreSQL", func(addr string) []string {
			wl := writeFile(t, "pg.yaml", "scenario: async\ndatabase_url: postgres://u@"+addr+"/db?sslmode=disable&connect_timeout=5\n")
			return []string{"run", "--broker", "memory", "--scenario", "async", "--quick", "--workload", wl}
		}},
		{"PostgreSQL, TLS first", func(addr string) []string {
			wl := writeFile(t, "pg.yaml", "scenario: transaction\norder_database_url: postgres://u@"+addr+"/db?connect_timeout=5\n")
			return []string{"run", "--broker", "memory", "--scenario", "transaction", "--quick", "--workload", wl}
		}},
		{"RabbitMQ", func(addr string) []string {
			return []string{"run", "--broker", "rabbitmq", "--scenario", "pubsub", "--addr", addr, "--preflight", "5s"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := garbageListener(t, http)
			code, _, stderr := runCLI(t, append(tt.args(addr), "--out", t.TempDir())...)
			if code != exitUnreachable {
				t.Fatalf("exit %d, want %d; stderr %s", code, exitUnreachable, stderr)
			}
			if !strings.Contains(stderr, addr) {
				t.Errorf("stderr does not name %s: %s", addr, stderr)
			}
			// One error line; the others are progress lines ("[broker/scenario] ...").
			errLines, stray := 0, 0
			for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
				switch {
				case strings.HasPrefix(l, "mqbench run:"):
					errLines++
				case !strings.HasPrefix(l, "["):
					stray++
				}
			}
			if errLines != 1 || stray != 0 {
				t.Errorf("stderr has %d error lines and %d others, want 1 and 0: %q", errLines, stray, stderr)
			}
		})
	}
}

// TestOutputWriteFailureIsNotSuccess: a report.html that cannot be written
// (here a directory stands in its place, as a full disk would fail it)
// fails the command, while result.json is kept.
func TestOutputWriteFailureIsNotSuccess(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "report.html", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, memoryRun(dir)...)
	if code == exitOK || code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitUsage, stderr)
	}
	if !strings.Contains(stderr, "writing report") {
		t.Errorf("stderr %q: want the report error", stderr)
	}
	if r, err := result.Read(filepath.Join(dir, "result.json")); err != nil || r.Status != result.StatusComplete {
		t.Fatalf("result.json: %v", err)
	}
}

// TestErrorsAreOneLine: error text with newlines (RabbitMQ's carry some)
// is one line in the result and on the console.
func TestErrorsAreOneLine(t *testing.T) {
	tests := []struct {
		name string
		err  error
		ctx  func() context.Context
		want string
	}{
		{"failed", errors.New("Exception (501) Reason:\n\"EOF\"\r\n\tmore"), context.Background, `Exception (501) Reason: "EOF" more`},
		{"interrupted", errors.New("read:\nreset"), func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, "read: reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &result.Result{Notes: []string{"note\nwith a break"}}
			settle(tt.ctx(), res, tt.err)
			sanitize(res)
			if res.Error != tt.want {
				t.Errorf("Error %q, want %q", res.Error, tt.want)
			}
			for _, s := range append(append([]string{res.Error}, res.Notes...), res.Verdict.Violations...) {
				if strings.ContainsAny(s, "\r\n\t") {
					t.Errorf("%q is not one line", s)
				}
			}
		})
	}
}

// TestNonFiniteMeasurementsDoNotLoseTheResult: a NaN or infinite figure
// anywhere in a result (JSON cannot encode one) is written as 0 with a
// note, and the rest of result.json is kept.
func TestNonFiniteMeasurementsDoNotLoseTheResult(t *testing.T) {
	tests := []struct {
		name string
		set  func(r *result.Result)
		path string
	}{
		{"metric", func(r *result.Result) { r.SetMetric("orders_per_s", math.NaN(), "1/s") }, "metrics.orders_per_s.Value"},
		{"latency", func(r *result.Result) { r.Latency = result.Latencies{"end_to_end": {Count: 1, P99: math.Inf(1)}} }, "latency.end_to_end.P99"},
		{"throughput", func(r *result.Result) { r.Throughput.SentPerS = math.Inf(-1) }, "throughput.SentPerS"},
		{"series", func(r *result.Result) { r.Series = map[string][]float64{"backlog": {1, math.NaN()}} }, "series.backlog[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			res := &result.Result{SchemaVersion: result.SchemaVersion, Verdict: result.Verdict{Pass: true}}
			res.SetMetric("kept", 42, "count")
			tt.set(res)
			var out, errb bytes.Buffer
			if code := writeOutputs(runSpec{}, res, dir, settle(context.Background(), res, nil), &out, &errb); code != exitOK {
				t.Fatalf("exit %d; stderr %s", code, errb.String())
			}
			r, err := result.Read(filepath.Join(dir, "result.json"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Metrics["kept"].Value != 42 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], tt.path) {
				t.Fatalf("metrics %+v notes %q: want kept=42 and a note naming %s", r.Metrics, r.Notes, tt.path)
			}
		})
	}
}
