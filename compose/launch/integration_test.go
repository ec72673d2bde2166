package launch

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// requireBrokers reports whether absent brokers must fail the test.
func requireBrokers() bool { return os.Getenv("MQBENCH_REQUIRE_BROKERS") == "1" }

// TestStatusHandshakes checks, against whatever brokers answer on the
// standard ports (started by anyone), that Status reports a real handshake
// and a version for each. It never starts or stops anything. A broker that
// is absent is skipped, unless MQBENCH_REQUIRE_BROKERS=1.
func TestStatusHandshakes(t *testing.T) {
	l, err := New(Options{Mode: ModeNative})
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Status(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantPorts := map[string][]int{
		ActiveMQ: {PortActiveMQStomp, PortActiveMQOpenWire, PortActiveMQJolokia},
		RabbitMQ: {PortRabbitMQ},
		Kafka:    {PortKafka, PortKafkaController},
		RocketMQ: {PortRocketMQNamesrv, PortRocketMQBroker},
		Artemis:  {PortArtemisStomp},
	}
	for _, s := range st {
		t.Run(s.Name, func(t *testing.T) {
			if !slices.Equal(s.Ports(), wantPorts[s.Name]) {
				t.Errorf("ports %v, want %v", s.Ports(), wantPorts[s.Name])
			}
			if !s.Healthy {
				var why []string
				for _, e := range s.Endpoints {
					why = append(why, fmt.Sprintf("%d: %s", e.Port, e.Handshake.Detail))
				}
				if requireBrokers() {
					t.Fatalf("not healthy (MQBENCH_REQUIRE_BROKERS=1): %s", strings.Join(why, "; "))
				}
				t.Skipf("broker not answering: %s", strings.Join(why, "; "))
			}
			for _, e := range s.Endpoints {
				if !e.Handshake.OK || e.Handshake.Detail == "" {
					t.Errorf("port %d: healthy broker with a failed handshake %+v", e.Port, e.Handshake)
				}
			}
			// Kafka's version comes from the jar of a process mqbench started;
			// the others report it over the wire.
			if s.Version == "" && (s.Name != Kafka || s.Managed) {
				t.Errorf("no version reported: %+v", s)
			}
			if s.Managed {
				pids, err := l.PIDs(s.Name)
				if err != nil || !slices.Equal(pids, s.PIDs) {
					t.Errorf("PIDs = %v, %v; Status says %v", pids, err, s.PIDs)
				}
				for _, pid := range pids {
					if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err != nil {
						t.Errorf("pid %d has no /proc entry: %v", pid, err)
					}
				}
			}
		})
	}
}

// TestLaunchCycle starts, restarts, kills and stops real brokers in the
// state directory (MQBENCH_HOME or the default), so it stops the shared
// brokers on this machine: it runs only with MQBENCH_LAUNCH_TESTS=1.
// MQBENCH_LAUNCH_BROKERS picks the brokers (default activemq). A broker it
// found running is running again when it ends.
func TestLaunchCycle(t *testing.T) {
	if os.Getenv("MQBENCH_LAUNCH_TESTS") != "1" {
		t.Skip("stops and starts the shared brokers: set MQBENCH_LAUNCH_TESTS=1 to run")
	}
	names, err := ParseNames(os.Getenv("MQBENCH_LAUNCH_BROKERS"))
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MQBENCH_LAUNCH_BROKERS") == "" {
		names = []string{ActiveMQ}
	}
	ctx := context.Background()
	var log strings.Builder
	l, err := New(Options{Mode: ModeNative})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Up(ctx, names, &log); err != nil {
			t.Errorf("final up: %v", err)
		}
		t.Logf("launcher output:\n%s", log.String())
	})
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if err := l.Up(ctx, []string{name}, &log); err != nil {
				t.Fatalf("up: %v", err)
			}
			st := statusOf(t, l, name)
			if !st.Healthy || !st.Managed {
				t.Fatalf("after up: %+v (the broker must be one mqbench started)", st)
			}
			// Up again is a no-op that reports the running broker.
			if err := l.Up(ctx, []string{name}, &log); err != nil {
				t.Fatalf("second up: %v", err)
			}
			if again := statusOf(t, l, name); !slices.Equal(again.PIDs, st.PIDs) {
				t.Errorf("second up changed pids %v -> %v", st.PIDs, again.PIDs)
			}
			queue := ""
			if name == ActiveMQ {
				queue = "/queue/mqbench.launch." + strconv.FormatInt(time.Now().UnixNano(), 36)
				stompSend(t, queue, "kept across restart")
			}
			if err := l.Restart(ctx, name, &log); err != nil {
				t.Fatalf("restart: %v", err)
			}
			restarted := statusOf(t, l, name)
			if !restarted.Healthy || slices.Equal(restarted.PIDs, st.PIDs) {
				t.Fatalf("after restart: %+v (old pids %v)", restarted, st.PIDs)
			}
			if queue != "" {
				if got := stompReceive(t, queue); got != "kept across restart" {
					t.Errorf("after restart received %q", got)
				}
			}
			if err := l.Kill(ctx, name); err != nil {
				t.Fatalf("kill: %v", err)
			}
			if _, err := l.PIDs(name); err == nil {
				t.Error("PIDs still reports processes after Kill")
			}
			if err := l.Up(ctx, []string{name}, &log); err != nil {
				t.Fatalf("up after kill: %v", err)
			}
			if err := l.Down(ctx, []string{name}, &log); err != nil {
				t.Fatalf("down: %v", err)
			}
			b := l.broker(name)
			for _, c := range b.checks {
				if portBusy(ctx, host, c.port) {
					t.Errorf("port %d still answers after down", c.port)
				}
			}
			for _, p := range b.procs {
				if _, err := os.Stat(filepath.Join(b.dir, p.pidFile)); err == nil {
					t.Errorf("pid file %s left after down", p.pidFile)
				}
			}
		})
	}
}

func statusOf(t *testing.T, l *Launcher, name string) Status {
	t.Helper()
	st, err := l.Status(context.Background(), []string{name})
	if err != nil {
		t.Fatal(err)
	}
	return st[0]
}

func stompConn(t *testing.T) *stomp.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(PortActiveMQStomp)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := stomp.Connect(nc, stomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return c
}

func stompSend(t *testing.T, queue, body string) {
	t.Helper()
	c := stompConn(t)
	defer c.Disconnect()
	if err := c.Send(queue, "text/plain", []byte(body), stomp.SendOpt.Receipt, stomp.SendOpt.Header("persistent", "true")); err != nil {
		t.Fatal(err)
	}
}

func stompReceive(t *testing.T, queue string) string {
	t.Helper()
	c := stompConn(t)
	defer c.Disconnect()
	sub, err := c.Subscribe(queue, stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C:
		if m.Err != nil {
			t.Fatal(m.Err)
		}
		return string(m.Body)
	case <-time.After(15 * time.Second):
		t.Fatal("no message within 15 s")
	}
	return ""
}
