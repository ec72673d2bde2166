// Package result is the result model every run writes (result.json,
// schema_version 1): what was measured, under which conditions, and how
// every message was accounted. It is the data model only: the scenarios and
// the probe fill it, package report groups and renders it, and nothing here
// depends on plotting or HTML.
package result

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// SchemaVersion is the version of the result format written by this code.
// Fields added since (repeat, cost.seconds, cost.idle, cost.warm_up,
// broker.title) are
// optional, so version 1 files with or without them read alike.
const SchemaVersion = 1

// Run statuses.
const (
	StatusComplete    = "complete"    // ran to the end
	StatusInterrupted = "interrupted" // stopped early (Ctrl-C); counts are incomplete
	StatusFailed      = "failed"      // could not run (see Error)
)

// Result is one run of one scenario against one broker.
type Result struct {
	SchemaVersion int            `json:"schema_version"`
	ID            string         `json:"id"`
	StartedAt     time.Time      `json:"started_at"`
	FinishedAt    time.Time      `json:"finished_at"`
	Broker        Broker         `json:"broker"`
	Scenario      string         `json:"scenario"`
	Profile       driver.Profile `json:"profile"`
	// Config is every configuration value the scenario used.
	Config      any         `json:"config"`
	Environment Environment `json:"environment"`
	Latency     Latencies   `json:"latency"`
	Throughput  Throughput  `json:"throughput"`
	Accounting  Accounting  `json:"accounting"`
	// Metrics are the scenario's own measures by name.
	Metrics  map[string]Metric `json:"metrics"`
	Timeline []Second          `json:"timeline"`
	// Series are extra per-second series a scenario charts (name -> values,
	// one per timeline second), e.g. queue depth or processed rate.
	Series  map[string][]float64 `json:"series,omitempty"`
	Cost    *Cost                `json:"cost,omitempty"`
	Verdict Verdict              `json:"verdict"`
	Status  string               `json:"status"`
	// Error says why a failed run failed.
	Error string `json:"error,omitempty"`
	// Notes are plain-language remarks (mechanism used, unsupported modes,
	// caveats such as "kill -9 cannot tell fsync from page cache").
	Notes []string `json:"notes,omitempty"`
	// Repeat places the result among the repeats of its cell (--repeat);
	// absent for a single run and in results written before repeats
	// existed, which read as one run.
	Repeat *Repeat `json:"repeat,omitempty"`
}

// Repeat is one run's place among the repeats of one broker × scenario
// cell. Every repeat of a `run --repeat N` or `matrix --repeat N`
// invocation shares Set; the report summarises a cell over the results of
// its newest result's set.
type Repeat struct {
	Set   string `json:"set"`   // shared by the repeats of one invocation
	Index int    `json:"index"` // 1-based
	Of    int    `json:"of"`    // how many repeats the invocation asked for
}

// Broker identifies what was measured.
type Broker struct {
	Name string `json:"name"`
	// Title is the product name for people, e.g. "RabbitMQ (streams)" for
	// the adapter named rabbitmq-stream (driver.Info.Title); absent in
	// results written before it was recorded.
	Title         string `json:"title,omitempty"`
	Client        string `json:"client"`
	ClientVersion string `json:"client_version"`
	Protocol      string `json:"protocol"`
	Version       string `json:"version"`
	// Addr is the address the adapter dialled: host:port, or a
	// comma-separated list of a cluster's nodes.
	Addr string `json:"addr"`
	// Topology is "single" or "cluster" as the run was told (--topology,
	// or an Addr listing several nodes);
	// absent in results written before it was recorded. What a cluster
	// replicates is in Durability, read back from the broker.
	Topology     string              `json:"topology,omitempty"`
	Capabilities driver.Capabilities `json:"capabilities"`
	// Durability is what a confirm promised in this run, as read back from
	// the broker (absent in results written before it was recorded).
	Durability *driver.Durability `json:"durability,omitempty"`
}

// Environment describes the host the run happened on.
type Environment struct {
	Host   string `json:"host"`
	CPUs   int    `json:"cpus"`
	OS     string `json:"os"`
	Arch   string `json:"arch"`
	Go     string `json:"go"`
	MemMiB int64  `json:"mem_mib,omitempty"`
}

// Latencies are the latency distributions of a run by name. Publish and
// EndToEnd are present for every scenario that sends messages; scenarios add
// their own (e.g. "response_mq").
type Latencies map[string]*Latency

// Latency summarises one HdrHistogram. Values are in Unit (always "ms" in
// schema 1). Histogram is HdrHistogram's compressed base64 encoding so reports
// can re-merge runs.
type Latency struct {
	Count     int64   `json:"count"`
	P50       float64 `json:"p50"`
	P90       float64 `json:"p90"`
	P99       float64 `json:"p99"`
	P999      float64 `json:"p999"`
	Max       float64 `json:"max"`
	Mean      float64 `json:"mean"`
	Unit      string  `json:"unit"`
	Histogram string  `json:"histogram,omitempty"`
	// Corrected says the values are measured from the intended send time
	// (coordinated-omission safe).
	Corrected bool `json:"corrected,omitempty"`
}

// Throughput is averaged over the measured (post warm-up) window.
type Throughput struct {
	SentPerS     float64 `json:"sent_per_s"`
	ReceivedPerS float64 `json:"received_per_s"`
	MBPerS       float64 `json:"mb_per_s"`
}

// Accounting accounts for every message of the run.
type Accounting struct {
	Sent        int64 `json:"sent"`        // handed to Send
	Confirmed   int64 `json:"confirmed"`   // confirmed by the broker
	Unconfirmed int64 `json:"unconfirmed"` // send failed or indeterminate; never counted as lost
	Rejected    int64 `json:"rejected"`    // definite refusals (destination full), part of unconfirmed
	// Received counts distinct messages received, summed over groups.
	Received   int64 `json:"received"`
	Deliveries int64 `json:"deliveries"` // every delivery, duplicates included
	Lost       int64 `json:"lost"`       // confirmed, never received by a group after the drain
	Duplicated int64 `json:"duplicated"` // deliveries of a message the group had already received
	Reordered  int64 `json:"reordered"`  // arrived below the highest sequence its consumer had seen from that producer
	Foreign    int64 `json:"foreign"`    // other run ids or not envelopes; ignored
	// Unsent counts open-loop messages the schedule owed but never sent:
	// a producer still behind one second after the load window ended stops
	// there, so a broker that stalls at the end shows here rather than in
	// the latency figures. Not part of Sent.
	Unsent int64 `json:"unsent,omitempty"`
	Groups int   `json:"groups"` // consumer groups that each should receive every message
	// Complete is false when the run was interrupted before the drain.
	Complete bool `json:"complete"`
}

// Metric is one named scenario measure.
type Metric struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Second is one point of the per-second timeline (counts within that second,
// backlog at its end).
type Second struct {
	T         int   `json:"t"` // seconds since the start of the run
	Sent      int64 `json:"sent"`
	Confirmed int64 `json:"confirmed"`
	Received  int64 `json:"received"`
	Backlog   int64 `json:"backlog"`
	Errors    int64 `json:"errors"`
}

// Cost is what the broker process(es) used during the run, read from /proc
// when the broker runs on this host.
type Cost struct {
	// CPUSeconds is the user+system CPU the broker processes used while
	// the run was metered, idle work included.
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	PIDs       []int   `json:"pids"`
	// Seconds is the wall time CPUSeconds was metered over (absent in
	// results written before the idle baseline existed).
	Seconds float64 `json:"seconds,omitempty"`
	// Idle is the broker's CPU use with no load from mqbench, measured on
	// the same processes just before the run; absent when not measured.
	Idle *Idle `json:"idle,omitempty"`
	// WarmUp says how start-up and JIT warm-up were kept out of the run,
	// in words (for example a discarded load after the broker started).
	WarmUp string `json:"warm_up,omitempty"`
}

// Idle is an idle baseline: the broker's CPU rate in consecutive windows
// with no load.
type Idle struct {
	WindowS float64 `json:"window_s"`
	// CPUPerS is each window's CPU seconds per second of wall time.
	CPUPerS []float64 `json:"cpu_per_s"`
}

// Net returns the CPU seconds the run's messages caused: CPUSeconds minus
// the idle baseline's mean rate over Seconds, and the idle noise over the
// same time, (max − min) of the windows' rates × Seconds, within which a
// difference between two runs' net figures says nothing. Without a
// baseline (ok false) net is CPUSeconds and noise 0. Net may be negative
// when the broker was busier idle than under the run's load.
func (c *Cost) Net() (net, noise float64, ok bool) {
	if c == nil {
		return 0, 0, false
	}
	if c.Idle == nil || len(c.Idle.CPUPerS) == 0 || !(c.Seconds > 0) {
		return c.CPUSeconds, 0, false
	}
	lo, hi, sum := c.Idle.CPUPerS[0], c.Idle.CPUPerS[0], 0.0
	for _, v := range c.Idle.CPUPerS {
		lo, hi, sum = min(lo, v), max(hi, v), sum+v
	}
	mean := sum / float64(len(c.Idle.CPUPerS))
	return c.CPUSeconds - mean*c.Seconds, (hi - lo) * c.Seconds, true
}

// Verdict says whether the scenario's invariants held.
type Verdict struct {
	Pass       bool     `json:"pass"`
	Violations []string `json:"violations"`
}

// Check appends a violation when ok is false. It keeps Pass in step.
func (v *Verdict) Check(ok bool, format string, args ...any) {
	if !ok {
		v.Violations = append(v.Violations, fmt.Sprintf(format, args...))
	}
	v.Pass = len(v.Violations) == 0
}

// SetMetric records a named metric.
func (r *Result) SetMetric(name string, value float64, unit string) {
	if r.Metrics == nil {
		r.Metrics = map[string]Metric{}
	}
	r.Metrics[name] = Metric{Value: value, Unit: unit}
}

// Write stores r as dir/result.json atomically (temp file + rename), creating
// dir when needed. A crash never leaves a half-written result.
func Write(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create result dir: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, "result.json"), append(b, '\n'))
}

// WriteFileAtomic writes data to path through a temp file in the same
// directory and a rename.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}

// Read loads a result.json and checks its schema version.
func Read(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: invalid result JSON: %w", path, err)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%s: schema_version %d, this mqbench reads %d", path, r.SchemaVersion, SchemaVersion)
	}
	return &r, nil
}
