package kafka

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

func TestParseAddrs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{"", []string{DefaultAddr}, false},
		{"  ", []string{DefaultAddr}, false},
		{"127.0.0.1:9092", []string{"127.0.0.1:9092"}, false},
		{"a:1, b:2,,", []string{"a:1", "b:2"}, false},
		{"[::1]:9092", []string{"[::1]:9092"}, false},
		{"localhost", nil, true},
		{":9092", nil, true},
		{"host:", nil, true},
		{",", nil, true},
	}
	for _, tt := range tests {
		got, err := parseAddrs(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("parseAddrs(%q) error = %v, want bad=%v", tt.in, err, tt.bad)
			continue
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("parseAddrs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"orders", true},
		{"a.b-c_D9", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a b", false},
		{"a/b", false},
		{"ü", false},
		{strings.Repeat("x", maxNameLen), true},
		{strings.Repeat("x", maxNameLen+1), false},
	}
	for _, tt := range tests {
		if got := validName(tt.in); got != tt.want {
			t.Errorf("validName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCheckDest(t *testing.T) {
	tests := []struct {
		name  string
		dest  driver.Destination
		parts int
		bad   bool
	}{
		{"default partitions", driver.Destination{Name: "t", Groups: []string{"g"}}, 1, false},
		{"partitions", driver.Destination{Name: "t", Groups: []string{"g"}, Partitions: 4}, 4, false},
		{"negative partitions", driver.Destination{Name: "t", Groups: []string{"g"}, Partitions: -1}, 0, true},
		{"bad name", driver.Destination{Name: "t/x", Groups: []string{"g"}}, 0, true},
		{"bad group", driver.Destination{Name: "t", Groups: []string{"g x"}}, 0, true},
		{"group id too long", driver.Destination{Name: strings.Repeat("t", 200), Groups: []string{strings.Repeat("g", 60)}}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := checkDest(tt.dest)
			if (err != nil) != tt.bad {
				t.Fatalf("error = %v, want bad=%v", err, tt.bad)
			}
			if parts != tt.parts {
				t.Errorf("parts = %d, want %d", parts, tt.parts)
			}
		})
	}
}

func TestRequiredAcks(t *testing.T) {
	tests := []struct {
		p    driver.Profile
		want kafkago.RequiredAcks
		bad  bool
	}{
		{driver.Durable, kafkago.RequireAll, false},
		{driver.Fast, kafkago.RequireOne, false},
		{driver.Unsafe, kafkago.RequireOne, false},
		{"bogus", 0, true},
	}
	for _, tt := range tests {
		got, err := requiredAcks(tt.p)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("requiredAcks(%q) = %v, %v; want %v, bad=%v", tt.p, got, err, tt.want, tt.bad)
		}
		if tt.bad && !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("requiredAcks(%q) error %v does not wrap ErrUnsupported", tt.p, err)
		}
	}
}

func TestClientVersion(t *testing.T) {
	if v := clientVersion(); !strings.HasPrefix(v, "v") {
		t.Errorf("clientVersion() = %q", v)
	}
}

func TestRetriable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{kafkago.NotLeaderForPartition, true},
		{kafkago.TopicAuthorizationFailed, false},
		{errors.New("bogus"), false},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, true},
	}
	for _, tt := range tests {
		if got := retriable(tt.err); got != tt.want {
			t.Errorf("retriable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestNewUnreachable: a refused connection and a listener that never
// answers both fail within the operation timeout with ErrUnreachable.
func TestNewUnreachable(t *testing.T) {
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()

	// A listener that accepts and never answers.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()

	for _, addr := range []string{refused, hung.Addr().String(), refused + "," + hung.Addr().String()} {
		t.Run(addr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d, err := New(ctx, driver.Config{Addr: addr, OpTimeout: 300 * time.Millisecond})
			if err == nil {
				d.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, driver.ErrUnreachable) {
				t.Fatalf("error %v does not wrap ErrUnreachable", err)
			}
			if ctx.Err() != nil {
				t.Fatal("New did not honour its operation timeout")
			}
		})
	}
}

func TestNewBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, driver.Config{Addr: "nohostport"}); err == nil || errors.Is(err, driver.ErrUnreachable) {
		t.Errorf("bad address: error = %v", err)
	}
	if _, err := New(ctx, driver.Config{Profile: "bogus"}); err == nil {
		t.Error("bad profile accepted")
	}
}

// TestChunkRecordsRebuilt: every attempt gets records with the full
// payload (kafka-go's Bytes are readers, consumed by encoding), and the
// chunk does not alias the caller's buffers.
func TestChunkRecordsRebuilt(t *testing.T) {
	p := &producer{parts: []int{0, 1, 2}, maxChunk: 4}
	key, body := []byte("k"), []byte("payload")
	msgs := []driver.Message{{Key: key, Body: body}, {Key: key, Body: body}, {Key: key, Body: body}, {Body: body}}
	byPart := p.split(msgs)
	body[0] = 'X' // the caller reuses its buffer after Send
	n := 0
	for _, chunks := range byPart {
		for _, c := range chunks {
			if limit := max(1, 4/len(byPart)); len(c.idx) > limit {
				t.Errorf("chunk of %d messages, want at most MaxInFlight 4 / %d partitions", len(c.idx), len(byPart))
			}
			for attempt := range 2 {
				for i, r := range c.records() {
					v, err := io.ReadAll(r.Value)
					if err != nil || string(v) != "payload" {
						t.Fatalf("attempt %d record %d value %q, %v", attempt, i, v, err)
					}
					if (r.Key == nil) != (msgs[c.idx[i]].Key == nil) {
						t.Fatalf("attempt %d record %d: key presence differs", attempt, i)
					}
				}
			}
			n += len(c.idx)
		}
	}
	if n != len(msgs) {
		t.Fatalf("%d messages in chunks, want %d", n, len(msgs))
	}
}

func TestKafkaPromise(t *testing.T) {
	for _, tc := range []struct {
		name     string
		profile  driver.Profile
		set      map[string]string
		rf       int
		synced   bool
		replicas int
	}{
		{"durable one node", driver.Durable, map[string]string{"acks": "all", "flush.messages": "1", "min.insync.replicas": "1"}, 1, true, 1},
		{"page cache one node", driver.Durable, map[string]string{"acks": "all", "flush.messages": "9223372036854775807", "min.insync.replicas": "1"}, 1, false, 1},
		{"replicated", driver.Durable, map[string]string{"acks": "all", "flush.messages": "1", "min.insync.replicas": "2"}, 3, true, 2},
		{"acks=1 replicated", driver.Fast, map[string]string{"acks": "1", "flush.messages": "9223372036854775807", "min.insync.replicas": "2"}, 3, false, 1},
		{"unsafe", driver.Unsafe, map[string]string{"acks": "1", "flush.messages": "1"}, 1, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			du := kafkaPromise(tc.profile, tc.set, tc.rf)
			if du.Synced != tc.synced || du.Replicas != tc.replicas || !du.Verified || du.Promise == "" {
				t.Fatalf("kafkaPromise = %+v, want synced %v, replicas %d, verified, a promise", du, tc.synced, tc.replicas)
			}
		})
	}
}

func TestTopicConfigsFlushOnlyWhenDurable(t *testing.T) {
	for _, p := range driver.Profiles() {
		got := topicConfigs(p)
		if want := p == driver.Durable; (len(got) == 1 && got[0].ConfigName == "flush.messages" && got[0].ConfigValue == "1") != want {
			t.Errorf("topicConfigs(%s) = %v, want flush.messages=1: %v", p, got, want)
		}
	}
}
