package transaction_test

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
	"github.com/mqbench/mqbench/scenarios/transaction"
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

// TestIntegrationQuick runs the --quick configuration of the transaction scenario against every real
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
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
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
				Prefix: "tx-" + hex.EncodeToString(rnd[:]), WorkDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
			}
			c := transaction.Scenario{}.DefaultConfig(true).(*transaction.Config)
			res, err := transaction.Scenario{}.Run(ctx, env, c)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			m := func(n string) float64 { return res.Metrics[n].Value }
			t.Logf("%s: native %v orders %v published %v duplicates_delivered %v duplicates_applied %v outbox_remaining %v history_rows %v retries %v ttc_p50_ms %v ttc_p99_ms %v consistent %v failures_injected %v consumer_crashes %v relay_crashes %v lost %v",
				b.name, m("native"), m("orders"), m("published"), m("duplicates_delivered"), m("duplicates_applied"), m("outbox_remaining"), m("history_rows"),
				m("retries"), m("ttc_p50_ms"), m("ttc_p99_ms"), m("consistent"), m("failures_injected"), m("consumer_crashes"), m("relay_crashes"), res.Accounting.Lost)
			if !res.Verdict.Pass {
				t.Fatalf("verdict: %v\nnotes %q", res.Verdict.Violations, res.Notes)
			}
			if m("duplicates_applied") != 0 || m("outbox_remaining") != 0 || m("history_rows") != m("orders") || m("consistent") != 1 || m("orders") == 0 {
				t.Fatalf("invariants: %v", res.Metrics)
			}
			if native := d.Info().Capabilities.NativeTransaction; native != (m("native") == 1) {
				t.Fatalf("mode native=%v on a driver with native transactions %v", m("native"), native)
			}
		})
	}
}
