package scenarios_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/pubsub"
)

func TestDecodeWorkload(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring; empty = success
		lines   int    // when > 0, the error's number of lines
		check   func(t *testing.T, c *pubsub.Config)
	}{
		{name: "overrides defaults", yaml: "rate: 500\nduration: 3s\nbatch: 10\n", check: func(t *testing.T, c *pubsub.Config) {
			if c.Rate != 500 || c.Duration != 3*time.Second || c.Batch != 10 || c.Size != 1024 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "empty file keeps defaults", yaml: "", check: func(t *testing.T, c *pubsub.Config) {
			if c.Rate != 1000 {
				t.Errorf("rate = %v", c.Rate)
			}
		}},
		{name: "unknown field", yaml: "rate: 5\nrtae: 7\n", wantErr: "w.yaml:2: field rtae not found"},
		{name: "wrong type", yaml: "rate: fast\n", wantErr: "w.yaml:1: cannot unmarshal"},
		{name: "negative rate", yaml: "duration: 1s\nrate: -1\n", wantErr: "w.yaml:2: rate: must be ≥ 0"},
		{name: "zero duration", yaml: "duration: 0s\n", wantErr: "w.yaml:1: duration: must be > 0"},
		{name: "unknown profile", yaml: "profile: turbo\n", wantErr: "w.yaml:1: profile: unknown profile"},
		{name: "syntax error", yaml: "rate: [1,\n", wantErr: "w.yaml:"},
		{name: "bad size", yaml: "size: 3\n", wantErr: "w.yaml:1: size"},
		{name: "workload for another scenario", yaml: "scenario: async\nmodes: [mq]\nemail_time: 1ms\nsms_time: 1ms\nmax_in_flight: 5\n", wantErr: `w.yaml:1: workload is for scenario "async", not "pubsub"`, lines: 1},
		{name: "same scenario named", yaml: "scenario: pubsub\nrate: 7\n", check: func(t *testing.T, c *pubsub.Config) {
			if c.Rate != 7 {
				t.Errorf("rate = %v", c.Rate)
			}
		}},
		{name: "second document", yaml: "rate: 5\n---\nrate: 6\n", wantErr: "w.yaml:2: a second YAML document", lines: 1},
		{name: "second document, empty", yaml: "rate: 5\n---\n", wantErr: "a second YAML document", lines: 1},
		{name: "second document, broken", yaml: "rate: 5\n---\nrate: [\n", wantErr: "w.yaml:", lines: 1},
		{name: "huge value echoed", yaml: "profile: " + strings.Repeat("x", 4<<20) + "\n", wantErr: "w.yaml:1: profile: unknown profile \"xxx", lines: 1},
		{name: "huge unknown key", yaml: strings.Repeat("k", 4<<20) + ": 1\n", wantErr: "w.yaml", lines: 1},
		{name: "NaN rate", yaml: "duration: 1s\nrate: .nan\n", wantErr: "w.yaml:2: rate: must be a finite number"},
		{name: "infinite rate", yaml: "rate: .inf\n", wantErr: "w.yaml:1: rate: must be a finite number"},
		{name: "unreachable rate", yaml: "rate: 1e15\n", wantErr: "w.yaml:1: rate: must be 0 (as fast as possible) or between"},
		{name: "duration of years", yaml: "duration: 87600h\n", wantErr: "w.yaml:1: duration: must be at most 24h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pubsub.Scenario{}.DefaultConfig(false).(*pubsub.Config)
			cfg.Scenario = "pubsub" // as the CLI sets it
			err := scenarios.DecodeWorkload("w.yaml", []byte(tt.yaml), cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tt.check(t, cfg)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %.300v, want it to contain %q", err, tt.wantErr)
			}
			if n := strings.Count(err.Error(), "\n") + 1; tt.lines > 0 && n != tt.lines {
				t.Errorf("error has %d lines, want %d: %.300v", n, tt.lines, err)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error is %d bytes long, want it clipped", len(err.Error()))
			}
		})
	}
}

func TestLoadWorkloadMissingFile(t *testing.T) {
	cfg := pubsub.Scenario{}.DefaultConfig(false)
	err := scenarios.LoadWorkload("/nonexistent/w.yaml", cfg)
	var we *scenarios.WorkloadError
	if !errors.As(err, &we) || !strings.Contains(err.Error(), "/nonexistent/w.yaml: cannot read workload") {
		t.Fatalf("err = %v", err)
	}
}
