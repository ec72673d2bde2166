package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/brokers"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/report/result"
)

func TestProfileMismatch(t *testing.T) {
	rocket := func(flush string, synced bool) *driver.Durability {
		return &driver.Durability{Verified: true, Synced: synced, Promise: "p",
			Settings: map[string]string{"flushDiskType": flush, "brokerRole": "ASYNC_MASTER"}}
	}
	unverified := &driver.Durability{Verified: false, Synced: false, Promise: "assumed"}
	for _, tc := range []struct {
		name    string
		profile driver.Profile
		du      *driver.Durability
		want    string // "" = may run; else a part of the reason
	}{
		{"durable on a syncing broker", driver.Durable, rocket("SYNC_FLUSH", true), ""},
		{"durable on an async broker", driver.Durable, rocket("ASYNC_FLUSH", false), "durable profile needs a broker that syncs"},
		{"fast on an async broker", driver.Fast, rocket("ASYNC_FLUSH", false), ""},
		{"fast on a syncing broker", driver.Fast, rocket("SYNC_FLUSH", true), "fast profile needs a broker whose confirms do not wait"},
		{"unsafe on a syncing broker", driver.Unsafe, rocket("SYNC_FLUSH", true), ""},
		{"unsafe on an async broker", driver.Unsafe, rocket("ASYNC_FLUSH", false), ""},
		{"durable, nothing read back", driver.Durable, nil, ""},
		{"durable, unverified", driver.Durable, unverified, ""},
		{"fast, unverified but claims a sync", driver.Fast, &driver.Durability{Synced: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := profileMismatch(tc.profile, tc.du)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("profileMismatch = %q, want %q", got, tc.want)
			}
			if got != "" && !strings.Contains(got, "brokerRole=ASYNC_MASTER, flushDiskType=") {
				t.Errorf("reason %q does not name the settings read, sorted", got)
			}
		})
	}
}

func TestMismatchHint(t *testing.T) {
	for _, tc := range []struct {
		profile driver.Profile
		managed bool
		want    string
	}{
		{driver.Fast, true, "mqbench down --brokers rocketmq && mqbench up --brokers rocketmq --async-flush"},
		{driver.Durable, true, "mqbench down --brokers rocketmq && mqbench up --brokers rocketmq"},
		{driver.Fast, false, "configure the broker"},
	} {
		got := mismatchHint("rocketmq", tc.profile, tc.managed)
		if !strings.HasSuffix(got, tc.want) && !strings.Contains(got, tc.want) {
			t.Errorf("mismatchHint(%s, managed %v) = %q, want %q", tc.profile, tc.managed, got, tc.want)
		}
		if tc.profile == driver.Durable && strings.Contains(got, "--async-flush") {
			t.Errorf("durable hint %q asks for --async-flush", got)
		}
	}
}

// TestRunRefusesProfileTheBrokerContradicts runs against the real RocketMQ
// broker the profile its read-back flushDiskType contradicts (fast on
// SYNC_FLUSH, durable on ASYNC_FLUSH): run must refuse with exit code 4
// and one line that names the setting and how to fix it, and run nothing.
func TestRunRefusesProfileTheBrokerContradicts(t *testing.T) {
	b, _ := brokers.Find("rocketmq")
	addr := b.Addr()
	drivertest.RequireBroker(t, b.Name, addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	drv, err := b.New(ctx, driver.Config{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	du, note := readDurability(ctx, drv, "mqbtest"+strconv.Itoa(os.Getpid()))
	_ = drv.Close()
	if du == nil || !du.Verified {
		t.Fatalf("rocketmq durability not read back: %s", note)
	}
	profile, want := "fast", "flushDiskType=SYNC_FLUSH"
	if !du.Synced {
		profile, want = "durable", "flushDiskType=ASYNC_FLUSH"
	}
	out := filepath.Join(t.TempDir(), "r")
	code, _, errs := runCLI(t, "run", "--broker", "rocketmq", "--addr", addr, "--scenario", "pubsub", "--quick", "--profile", profile, "--out", out)
	if code != exitMismatch {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitMismatch, errs)
	}
	if lines := strings.Split(strings.TrimSpace(errs), "\n"); len(lines) != 1 || !strings.Contains(errs, want) || !strings.Contains(errs, profile+" profile needs") {
		t.Errorf("stderr %q: want one line naming %s and the %s profile", errs, want, profile)
	}
	res, err := result.Read(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusFailed || res.Accounting.Sent != 0 || res.Broker.Durability == nil {
		t.Errorf("result status %s, sent %d, durability %v: want a failed run that sent nothing, with the durability read", res.Status, res.Accounting.Sent, res.Broker.Durability)
	}
}
