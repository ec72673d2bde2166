package peakshaving_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/activemq"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/adapters/kafka"
	"github.com/mqbench/mqbench/adapters/rabbitmq"
	"github.com/mqbench/mqbench/adapters/rocketmq"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/peakshaving"
)

// brokers are the real brokers the scenario runs against in integration
// tests; MQBENCH_<NAME>_ADDR overrides an address.
var brokers = []struct {
	name, addr string
	new        driver.Constructor
}{
	{"activemq", "127.0.0.1:61613", activemq.New},
	{"kafka", "127.0.0.1:9092", kafka.New},
	{"rabbitmq", "127.0.0.1:5672", rabbitmq.New},
	{"rocketmq", "127.0.0.1:9876", rocketmq.New},
}

// TestIntegrationQuick runs the --quick configuration against every real
// broker that answers (all of them with MQBENCH_REQUIRE_BROKERS=1) and checks
// the invariants.
func TestIntegrationQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) {
			addr := b.addr
			if a := os.Getenv("MQBENCH_" + strings.ToUpper(b.name) + "_ADDR"); a != "" {
				addr = a
			}
			drivertest.RequireBroker(t, b.name, addr)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			d, err := b.new(ctx, driver.Config{Addr: addr, Profile: driver.Durable, OpTimeout: 15 * time.Second})
			if errors.Is(err, driver.ErrUnreachable) && os.Getenv("MQBENCH_REQUIRE_BROKERS") != "1" {
				t.Skipf("%s at %s not ready: %v", b.name, addr, err)
			}
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer d.Close()
			var rnd [4]byte
			rand.Read(rnd[:])
			env := scenarios.Env{
				Driver: d, Profile: driver.Durable, RunID: uint64(time.Now().UnixNano()),
				Prefix: "ps-" + hex.EncodeToString(rnd[:]), WorkDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
			}
			c := peakshaving.Scenario{}.DefaultConfig(true).(*peakshaving.Config)
			res, err := peakshaving.Scenario{}.Run(ctx, env, c)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			m := func(n string) float64 { return res.Metrics[n].Value }
			t.Logf("%s: requests %v accepted %v rejected %v sold %v oversold %v queue_depth_peak %v (limit %v) accept_p99_ms %v reject_p99_ms %v sellout_seconds %v admission_broker %v",
				b.name, m("requests"), m("accepted"), m("rejected"), m("sold"), m("oversold"), m("queue_depth_peak"), m("queue_depth_limit"),
				m("accept_p99_ms"), m("reject_p99_ms"), m("sellout_seconds"), m("admission_broker"))
			if !res.Verdict.Pass {
				t.Fatalf("verdict: %v\nnotes %q", res.Verdict.Violations, res.Notes)
			}
			if m("oversold") != 0 || m("rejected") == 0 || m("accepted")+m("rejected") != m("requests") || m("sold") != min(m("stock_initial"), m("accepted")) {
				t.Fatalf("invariants: %v", res.Metrics)
			}
			if caps := d.Info().Capabilities; caps.MaxLengthReject != (m("admission_broker") == 1) {
				t.Fatalf("admission mechanism %v with max-length rejection %v", m("admission_broker"), caps.MaxLengthReject)
			}
		})
	}
}
