package rocketmq

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/mqbench/mqbench/adapters/driver"
)

func TestVersionFromDesc(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"V5_3_3", "5.3.3"},
		{"V4_9_8", "4.9.8"},
		{"V4_9_8_SNAPSHOT", "4.9.8-SNAPSHOT"},
		{"V3_0_0_ALPHA1", "3.0.0-ALPHA1"},
		{"", ""},
		{"5.3.3", "5.3.3"},
		{"VX", "VX"},
	} {
		if got := versionFromDesc(tc.in); got != tc.want {
			t.Errorf("versionFromDesc(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseRuntimeVersion(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"table":{"brokerVersionDesc":"V5_3_3","brokerVersion":"479"}}`, "5.3.3"},
		{`{"table":{}}`, ""},
		{`not json`, ""},
	} {
		if got := parseRuntimeVersion([]byte(tc.body)); got != tc.want {
			t.Errorf("parseRuntimeVersion(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestParseProperties(t *testing.T) {
	got := parseProperties([]byte("flushDiskType=SYNC_FLUSH\n# comment\n\nsyncFlushTimeout = 5000\nmessageDelayLevel=1s 5s\nbroken\n"))
	want := map[string]string{"flushDiskType": "SYNC_FLUSH", "syncFlushTimeout": "5000", "messageDelayLevel": "1s 5s"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseClusterInfo(t *testing.T) {
	body := `{"brokerAddrTable":{"broker-b":{"brokerAddrs":{0:"10.0.0.2:10911",1:"10.0.0.3:10911"},"brokerName":"broker-b"},` +
		`"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a"},"slave-only":{"brokerAddrs":{1:"x:1"}}},` +
		`"clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"]}}`
	got, err := parseClusterInfo([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].name != "broker-a" || got[0].addr != "127.0.0.1:10911" || got[1].addr != "10.0.0.2:10911" {
		t.Errorf("got %+v", got)
	}
	if _, err := parseClusterInfo([]byte("{")); err == nil {
		t.Error("accepted truncated JSON")
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dest    driver.Destination
		topic   string
		queues  int
		wantErr bool
	}{
		{"defaults", driver.Destination{Name: "orders", Groups: []string{"g"}}, "orders", 1, false},
		{"dots mapped", driver.Destination{Name: "a.b-c_d", Groups: []string{"g.1"}, Partitions: 8}, "a_b-c_d", 8, false},
		{"no name", driver.Destination{Groups: []string{"g"}}, "", 0, true},
		{"no group", driver.Destination{Name: "t"}, "", 0, true},
		{"bad char", driver.Destination{Name: "a/b", Groups: []string{"g"}}, "", 0, true},
		{"bad group", driver.Destination{Name: "t", Groups: []string{"g h"}}, "", 0, true},
		{"negative partitions", driver.Destination{Name: "t", Groups: []string{"g"}, Partitions: -1}, "", 0, true},
		{"too many partitions", driver.Destination{Name: "t", Groups: []string{"g"}, Partitions: maxQueues + 1}, "", 0, true},
		{"too long", driver.Destination{Name: strings.Repeat("x", 128), Groups: []string{"g"}}, "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := resolve(tc.dest)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && (n.topic != tc.topic || n.queues != tc.queues) {
				t.Errorf("got %+v", n)
			}
		})
	}
}

func TestProvisionMaxLengthUnsupported(t *testing.T) {
	d := &Driver{}
	_, err := d.Provision(context.Background(), driver.Destination{Name: "t", Groups: []string{"g"}, MaxLength: 10})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("err = %v, want ErrUnsupported", err)
	}
}

func TestHashSelectorKeepsKeysTogether(t *testing.T) {
	mqs := make([]*primitive.MessageQueue, 8)
	for i := range mqs {
		mqs[i] = &primitive.MessageQueue{Topic: "t", BrokerName: "b", QueueId: i}
	}
	pr := &Producer{topic: "t"}
	used := map[int]bool{}
	for _, key := range []string{"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"} {
		first := hashSelector{}.Select(pr.message(driver.Message{Key: []byte(key)}), mqs, "")
		for range 5 {
			if q := (hashSelector{}).Select(pr.message(driver.Message{Key: []byte(key)}), mqs, ""); q != first {
				t.Fatalf("key %s went to queues %d and %d", key, first.QueueId, q.QueueId)
			}
		}
		used[first.QueueId] = true
	}
	if len(used) < 2 {
		t.Errorf("9 keys all hashed to %v", used)
	}
	if q := (hashSelector{}).Select(pr.message(driver.Message{}), nil, ""); q != nil {
		t.Errorf("no queues: got %v", q)
	}
	// No key: round robin over the queues.
	seen := map[int]bool{}
	for range 8 {
		seen[hashSelector{}.Select(pr.message(driver.Message{Body: []byte("x")}), mqs, "").QueueId] = true
	}
	if len(seen) != 8 {
		t.Errorf("keyless messages used %d of 8 queues", len(seen))
	}
}

func TestMessageKeyProperty(t *testing.T) {
	pr := &Producer{topic: "t"}
	key := []byte{0, 1, 2, 'a', 0xff}
	m := pr.message(driver.Message{Key: key, Body: []byte("b")})
	if got := m.GetProperty(keyProperty); got != "000102"+"61ff" {
		t.Errorf("key property = %q", got)
	}
	body := []byte("body")
	m = pr.message(driver.Message{Body: body})
	body[0] = 'X'
	if !bytes.Equal(m.Body, []byte("body")) {
		t.Error("message retains the caller's body buffer")
	}
}

func TestBatchEnd(t *testing.T) {
	mk := func(keys string) []driver.Message {
		out := make([]driver.Message, len(keys))
		for i := range keys {
			out[i] = driver.Message{Key: []byte{keys[i]}, Body: []byte("b")}
		}
		return out
	}
	for _, tc := range []struct {
		keys  string
		start int
		want  int
	}{
		{"a", 0, 1},
		{"aaab", 0, 3},
		{"aaab", 3, 4},
		{"abab", 0, 1},
		{strings.Repeat("a", maxBatchCount+5), 0, maxBatchCount},
	} {
		if got := batchEnd(mk(tc.keys), tc.start); got != tc.want {
			t.Errorf("batchEnd(%q, %d) = %d, want %d", tc.keys, tc.start, got, tc.want)
		}
	}
	big := []driver.Message{{Body: make([]byte, maxBatchBytes)}, {Body: []byte("x")}}
	if got := batchEnd(big, 0); got != 1 {
		t.Errorf("oversized batch end = %d, want 1", got)
	}
	empty := []driver.Message{{Body: []byte("x")}, {}, {}, {Body: []byte("y")}}
	for start, want := range []int{1, 2, 3, 4} {
		if got := batchEnd(empty, start); got != want {
			t.Errorf("batchEnd with empty bodies from %d = %d, want %d", start, got, want)
		}
	}
}

func TestSendStatusErr(t *testing.T) {
	for _, tc := range []struct {
		res *primitive.SendResult
		ok  bool
	}{
		{&primitive.SendResult{Status: primitive.SendOK}, true},
		{&primitive.SendResult{Status: primitive.SendFlushDiskTimeout}, false},
		{&primitive.SendResult{Status: primitive.SendFlushSlaveTimeout}, false},
		{&primitive.SendResult{Status: primitive.SendSlaveNotAvailable}, false},
		{&primitive.SendResult{Status: primitive.SendUnknownError}, false},
		{nil, false},
	} {
		if err := sendStatusErr(tc.res); (err == nil) != tc.ok {
			t.Errorf("sendStatusErr(%+v) = %v", tc.res, err)
		}
	}
}

type recordHandler struct{ records []slog.Record }

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.records = append(h.records, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestClientLoggerWarnAndAbove(t *testing.T) {
	h := &recordHandler{}
	l := clientLogger{l: slog.New(h)}
	l.Debug("d", nil)
	l.Info("i", map[string]interface{}{"k": 1})
	l.Warning("w", map[string]interface{}{"b": 2, "a": 1})
	l.Error("e", nil)
	l.Fatal("f", nil) // must not exit
	l.Level("debug")
	l.Info("i2", nil)
	if err := l.OutputPath("/nonexistent/x"); err != nil {
		t.Error(err)
	}
	var got []string
	for _, r := range h.records {
		got = append(got, r.Level.String()+":"+r.Message)
	}
	want := []string{"WARN:w", "ERROR:e", "ERROR:fatal: f"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("logged %v, want %v", got, want)
	}
	var keys []string
	h.records[0].Attrs(func(a slog.Attr) bool { keys = append(keys, a.Key); return true })
	if strings.Join(keys, ",") != "a,b" {
		t.Errorf("attrs %v not in key order", keys)
	}
}

func TestNewUnreachable(t *testing.T) {
	// Nothing listens: refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	// Accepts and never answers: hung.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, addr := range []string{refused, hung.Addr().String()} {
		start := time.Now()
		_, err := New(context.Background(), driver.Config{Addr: addr, OpTimeout: 300 * time.Millisecond})
		if !errors.Is(err, driver.ErrUnreachable) {
			t.Errorf("New(%s) = %v, want ErrUnreachable", addr, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("New(%s) took %v", addr, d)
		}
	}
}

func TestNewBadProfile(t *testing.T) {
	if _, err := New(context.Background(), driver.Config{Profile: "nope"}); err == nil {
		t.Error("accepted an unknown profile")
	}
}

func TestResolveAddr(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		in, want string
		wantErr  bool
	}{
		{"127.0.0.1:9876", "127.0.0.1:9876", false},
		{"[::1]:9876", "[::1]:9876", false},
		{"localhost:9876", "127.0.0.1:9876", false},
		{"127.0.0.1", "", true},
		{":9876", "", true},
		{"127.0.0.1:x", "", true},
		{"127.0.0.1:99999", "", true},
	} {
		got, err := resolveAddr(ctx, tc.in, 5*time.Second)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("resolveAddr(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestGroupName(t *testing.T) {
	if got := groupName("orders", "g.1"); got != "orders__g_1" {
		t.Errorf("groupName = %q", got)
	}
	long := strings.Repeat("t", 127)
	a, b := groupName(long, "g1"), groupName(long, "g2")
	if a == b || len(a) > maxGroupLen || len(b) > maxGroupLen {
		t.Errorf("long names: %q (%d), %q (%d)", a, len(a), b, len(b))
	}
	if len("%RETRY%"+a) > 127 {
		t.Errorf("retry topic of %q too long", a)
	}
	for _, g := range []string{a, b} {
		if err := validName(g); err != nil {
			t.Errorf("group %q invalid: %v", g, err)
		}
	}
}

// The fallback client version must be the one go.mod requires.
func TestPinnedClientVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Skipf("go.mod not found: %v", err)
	}
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == ClientModule {
			if f[1] != pinnedClientVersion {
				t.Errorf("go.mod requires %s %s, pinnedClientVersion is %s", ClientModule, f[1], pinnedClientVersion)
			}
			return
		}
	}
	t.Errorf("go.mod does not require %s", ClientModule)
}

func TestRocketmqPromise(t *testing.T) {
	for _, tc := range []struct {
		name             string
		profile          driver.Profile
		set              map[string]string
		n                int
		synced, verified bool
	}{
		{"sync flush", driver.Durable, map[string]string{"flushDiskType": "SYNC_FLUSH"}, 1, true, true},
		{"async flush", driver.Fast, map[string]string{"flushDiskType": "ASYNC_FLUSH"}, 1, false, true},
		{"setting missing", driver.Durable, map[string]string{"brokerRole": "ASYNC_MASTER"}, 1, false, false},
		{"one of two async", driver.Durable, map[string]string{"a.flushDiskType": "SYNC_FLUSH", "b.flushDiskType": "ASYNC_FLUSH"}, 2, false, true},
		{"two sync", driver.Durable, map[string]string{"a.flushDiskType": "SYNC_FLUSH", "b.flushDiskType": "SYNC_FLUSH"}, 2, true, true},
		{"unsafe", driver.Unsafe, map[string]string{"flushDiskType": "SYNC_FLUSH"}, 1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			du := rocketmqPromise(tc.profile, tc.set, tc.n)
			if du.Synced != tc.synced || du.Verified != tc.verified || du.Promise == "" {
				t.Fatalf("rocketmqPromise = %+v, want synced %v, verified %v", du, tc.synced, tc.verified)
			}
		})
	}
}

func TestSplitAddrs(t *testing.T) {
	for in, want := range map[string]string{
		"":               DefaultAddr,
		"1.2.3.4:9876":   "1.2.3.4:9876",
		"a:1, b:2,,c:3 ": "a:1|b:2|c:3",
		" , ":            DefaultAddr,
	} {
		if got := strings.Join(splitAddrs(in), "|"); got != want {
			t.Errorf("splitAddrs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSyncState(t *testing.T) {
	body := []byte(`{"replicasInfoTable":{"broker-a":{"masterBrokerId":1,"masterAddress":"127.0.0.1:39931","masterEpoch":2,"syncStateSetEpoch":4,` +
		`"inSyncReplicas":[{"brokerName":"broker-a","brokerId":1,"brokerAddress":"127.0.0.1:39931","alive":true},{"brokerName":"broker-a","brokerId":2,"brokerAddress":"127.0.0.1:39921","alive":true}],` +
		`"notInSyncReplicas":[{"brokerName":"broker-a","brokerId":3,"brokerAddress":"127.0.0.1:39911","alive":false}]}}}`)
	rs, err := parseSyncState(body, "broker-a")
	if err != nil {
		t.Fatal(err)
	}
	if rs.master != "127.0.0.1:39931" || strings.Join(rs.inSync, ",") != "127.0.0.1:39921,127.0.0.1:39931" ||
		strings.Join(rs.notInSync, ",") != "127.0.0.1:39911" {
		t.Errorf("parseSyncState = %+v", rs)
	}
	if _, err := parseSyncState(body, "broker-b"); err == nil {
		t.Error("an unknown broker group parsed without error")
	}
}

// TestRocketmqPromiseReplicated: a controller-mode SYNC_MASTER waiting for
// its whole sync state set promises that many replicas; without
// allAckInSyncStateSet, or with the sync state set unread, it promises one.
func TestRocketmqPromiseReplicated(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{"flushDiskType": "SYNC_FLUSH", "brokerRole": "SYNC_MASTER", "enableControllerMode": "true",
			"allAckInSyncStateSet": "true", "minInSyncReplicas": "2", "syncStateSetSize": "3"}
	}
	for _, tc := range []struct {
		name     string
		edit     func(map[string]string)
		replicas int
		verified bool
	}{
		{"whole set", func(map[string]string) {}, 3, true},
		{"shrunk set", func(m map[string]string) { m["syncStateSetSize"] = "2" }, 2, true},
		{"no all-ack", func(m map[string]string) { m["allAckInSyncStateSet"] = "false" }, 1, true},
		{"async master", func(m map[string]string) { m["brokerRole"] = "ASYNC_MASTER" }, 1, true},
		{"set unread", func(m map[string]string) { delete(m, "syncStateSetSize") }, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := base()
			tc.edit(set)
			du := rocketmqPromise(driver.Durable, set, 1)
			if du.Replicas != tc.replicas || du.Verified != tc.verified || !du.Synced {
				t.Fatalf("rocketmqPromise = %+v, want %d replicas, verified %v, synced", du, tc.replicas, tc.verified)
			}
		})
	}
}
