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
		{name: "NaN rate", yaml: "duration: 1s\nrate: .nan\n", wantErr: "w.yaml:2: rate: must be a finite number"},
		{name: "infinite rate", yaml: "rate: .inf\n", wantErr: "w.yaml:1: rate: must be a finite number"},
		{name: "unreachable rate", yaml: "rate: 1e15\n", wantErr: "w.yaml:1: rate: must be 0 (as fast as possible) or between"},
		{name: "duration of years", yaml: "duration: 87600h\n", wantErr: "w.yaml:1: duration: must be at most 24h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pubsub.Scenario{}.DefaultConfig(false).(*pubsub.Config)
			err := scenarios.DecodeWorkload("w.yaml", []byte(tt.yaml), cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tt.check(t, cfg)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
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
