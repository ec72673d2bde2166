package rocketmq

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/drivertest"
	"github.com/mqbench/mqbench/adapters/rocketmq/internal/remoting"
)

// The private RocketMQ of testdata/faultbroker.sh: the broker listens on
// faultBrokerBind and registers faultBrokerProxy with the name server, where
// TestFaultNetwork's proxy listens.
const (
	faultBrokerBind  = "127.0.0.2:20911"
	faultBrokerProxy = "127.0.0.3:20911"
)

// TestFaultNetwork runs drivertest.NetFaults (latency, resets, a black hole,
// an outage) against the private RocketMQ started by
// testdata/faultbroker.sh, whose name server MQBENCH_ROCKETMQ_FAULT_ADDR
// names (127.0.0.1:19876). The shared broker is never touched.
//
// RocketMQ clients ask the name server for the broker's address, so the proxy
// does not sit in front of the name server: the private broker listens on
// 127.0.0.2:20911 and registers 127.0.0.3:20911, where the proxy listens and
// forwards to it. The driver is given the name server, not the proxy, and
// every broker connection (the adapter's own administration included) goes
// through the proxy.
func TestFaultNetwork(t *testing.T) {
	ns := os.Getenv("MQBENCH_ROCKETMQ_FAULT_ADDR")
	if ns == "" {
		t.Skip("set MQBENCH_ROCKETMQ_FAULT_ADDR to the name server of testdata/faultbroker.sh (127.0.0.1:19876) to run the network faults on a private RocketMQ")
	}
	drivertest.RequireBroker(t, "rocketmq", ns)
	drivertest.RequireBroker(t, "rocketmq", faultBrokerBind)
	waitFaultBroker(t, ns)
	drivertest.NetFaults(t, drivertest.NetHarness{
		Name:     "rocketmq",
		Upstream: faultBrokerBind,
		Listen:   faultBrokerProxy,
		// addr is the proxy's address, which is the broker's registered
		// one; a RocketMQ driver is pointed at the name server (reached
		// directly) and finds the broker, hence the proxy, through it.
		// New's preflight asks that broker for its runtime information,
		// so with the proxy down New still fails with
		// driver.ErrUnreachable, as the Down fault expects.
		New: func(ctx context.Context, addr string, op time.Duration) (driver.Driver, error) {
			return New(ctx, driver.Config{Addr: ns, OpTimeout: op, Logger: testLogger(t)})
		},
		// Consumers rebalance every 20 s, and a client drops a broker
		// connection only after its own timeouts.
		Timeout: 120 * time.Second,
	})
}

// waitFaultBroker waits, at most a minute, until the name server ns lists
// the private broker at the proxy's address and the broker, reached
// directly, answers GET_BROKER_RUNTIME_INFO, which New's preflight sends. A
// freshly started RocketMQ 5.3.3 broker fails that request
// (NoSuchElementException in StoreStatsService.getPutTps) until its first
// statistics sample, a second after the store starts, and may register with
// the name server only ten seconds after "boot success".
func waitFaultBroker(t *testing.T, ns string) {
	t.Helper()
	c := remoting.NewClient()
	defer c.Close()
	ready := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := c.Invoke(ctx, ns, remoting.CodeGetBrokerClusterInfo, nil, nil)
		if err != nil {
			return fmt.Errorf("name server %s: %w", ns, err)
		}
		brokers, err := parseClusterInfo(resp.Body)
		if err != nil {
			return err
		}
		if len(brokers) != 1 || brokers[0].addr != faultBrokerProxy {
			return fmt.Errorf("name server %s lists %+v, want one master at %s", ns, brokers, faultBrokerProxy)
		}
		if _, err := c.Invoke(ctx, faultBrokerBind, remoting.CodeGetBrokerRuntimeInfo, nil, nil); err != nil {
			return fmt.Errorf("broker %s: %w", faultBrokerBind, err)
		}
		return nil
	}
	begin := time.Now()
	deadline := begin.Add(time.Minute)
	for {
		err := ready()
		if err == nil {
			t.Logf("private RocketMQ ready after %v", time.Since(begin).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("private RocketMQ not ready after a minute: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
