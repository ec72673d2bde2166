package artemis

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

func TestQueueNames(t *testing.T) {
	// Distinct (destination, group) pairs never share a queue, even when
	// names contain dots.
	seen := map[string][2]string{}
	for _, p := range [][2]string{{"a.b", "c"}, {"a", "b.c"}, {"a", "b~c"}, {"a~b", "c"}, {"orders", "email"}} {
		if !checkable(p) {
			continue
		}
		q := queueName(p[0], p[1])
		if prev, dup := seen[q]; dup {
			t.Errorf("queue %q for both %v and %v", q, prev, p)
		}
		seen[q] = p
	}
	if got := fqqn("orders", "email"); got != "orders::orders~email" {
		t.Errorf("fqqn = %q", got)
	}
}

// checkable reports whether the pair passes checkDest (names with '~' do
// not, which is what keeps queue names injective).
func checkable(p [2]string) bool {
	return checkDest(driver.Destination{Name: p[0], Groups: []string{p[1]}}) == nil
}

func TestCheckDest(t *testing.T) {
	for _, tc := range []struct {
		dest driver.Destination
		ok   bool
	}{
		{driver.Destination{Name: "orders", Groups: []string{"g1"}}, true},
		{driver.Destination{Name: "a.b-c_d", Groups: []string{"x.y"}}, true},
		{driver.Destination{Name: "", Groups: []string{"g"}}, false},
		{driver.Destination{Name: "a::b", Groups: []string{"g"}}, false},
		{driver.Destination{Name: "a~b", Groups: []string{"g"}}, false},
		{driver.Destination{Name: "a", Groups: nil}, false},
		{driver.Destination{Name: "a", Groups: []string{"g#"}}, false},
	} {
		if err := checkDest(tc.dest); (err == nil) != tc.ok {
			t.Errorf("checkDest(%+v) = %v, want ok=%v", tc.dest, err, tc.ok)
		}
	}
	if err := checkGroup(driver.Destination{Name: "a", Groups: []string{"g"}}, "h"); err == nil {
		t.Error("checkGroup accepted a group that is not the destination's")
	}
}

func TestBrokerVersion(t *testing.T) {
	for in, want := range map[string]string{
		"ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine": "2.40.0",
		"ActiveMQ-Artemis/2.40.0":                                   "2.40.0",
		"Artemis":                                                   "Artemis",
		"":                                                          "",
	} {
		if got := brokerVersion(in); got != want {
			t.Errorf("brokerVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	info := Describe()
	c := info.Capabilities
	if info.Name != Name || info.BrokerVersion != "" || info.ClientVersion == "" || info.Protocol != "STOMP 1.2" {
		t.Fatalf("%+v", info)
	}
	if c.MaxLengthReject || c.Replay || c.NativeTransaction || c.RedeliveryFlag {
		t.Fatalf("capabilities claim what Artemis over STOMP does not do here: %+v", c)
	}
	if !c.Depth || !c.FanOut || !c.CompetingConsumers || !c.Nack || !c.Persistent {
		t.Fatalf("capabilities miss what the adapter implements: %+v", c)
	}
}

func reply(ok bool, body string) *frame.Frame {
	f := frame.New(frame.MESSAGE, hdrSucceeded, map[bool]string{true: "true", false: "false"}[ok])
	f.Body = []byte(body)
	return f
}

func TestDecodeReply(t *testing.T) {
	var b bool
	if err := decodeReply(reply(true, "[true]"), "x", &b); err != nil || !b {
		t.Errorf("bool reply: %v %v", b, err)
	}
	var n int64
	if err := decodeReply(reply(true, "[42]"), "x", &n); err != nil || n != 42 {
		t.Errorf("count reply: %v %v", n, err)
	}
	var s string
	if err := decodeReply(reply(true, `["NIO"]`), "x", &s); err != nil || s != "NIO" {
		t.Errorf("string reply: %q %v", s, err)
	}
	if err := decodeReply(reply(true, ""), "x", nil); err != nil {
		t.Errorf("void operation: %v", err)
	}
	err := decodeReply(reply(false, `["AMQ229019: Queue q already exists on address a"]`), "x", nil)
	if !errors.Is(err, errManagement) || err == nil || !strings.Contains(err.Error(), queueExists) {
		t.Errorf("failed call: %v", err)
	}
	if err := decodeReply(reply(true, "not json"), "x", &b); err == nil {
		t.Error("unreadable reply accepted")
	}
	if err := decodeReply(reply(true, `["x"]`), "x", &b); err == nil {
		t.Error("reply of the wrong type accepted")
	}
}

func TestPromise(t *testing.T) {
	synced := brokerSync{persistence: true, syncNonTx: true, syncTx: true, journalType: "NIO"}
	for _, tc := range []struct {
		name       string
		p          driver.Profile
		bs         brokerSync
		durable    bool
		wantSynced bool
		replicas   int
	}{
		{"durable on a syncing broker", driver.Durable, synced, true, true, 1},
		{"durable, journal sync off", driver.Durable, brokerSync{persistence: true}, true, false, 1},
		{"durable, queue not durable", driver.Durable, synced, false, false, 1},
		{"durable, persistence off", driver.Durable, brokerSync{syncNonTx: true, syncTx: true}, true, false, 1},
		{"fast", driver.Fast, synced, true, false, 1},
		{"unsafe", driver.Unsafe, synced, true, false, 0},
	} {
		du := promise(tc.p, tc.bs, tc.durable)
		if du.Synced != tc.wantSynced || du.Replicas != tc.replicas || !du.Verified || du.Promise == "" {
			t.Errorf("%s: %+v", tc.name, du)
		}
		if du.Settings["journal-sync-non-transactional"] != map[bool]string{true: "true", false: "false"}[tc.bs.syncNonTx] {
			t.Errorf("%s: settings %v do not carry what the broker reported", tc.name, du.Settings)
		}
	}
}

func TestNewUnreachable(t *testing.T) {
	_, err := New(context.Background(), driver.Config{Addr: "127.0.0.1:1", OpTimeout: 500e6})
	if !errors.Is(err, driver.ErrUnreachable) {
		t.Fatalf("New = %v, want ErrUnreachable", err)
	}
	if _, err := New(context.Background(), driver.Config{Addr: "127.0.0.1:1", Profile: "bogus"}); err == nil {
		t.Fatal("New accepted an unknown profile")
	}
}
