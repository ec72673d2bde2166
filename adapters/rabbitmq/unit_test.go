package rabbitmq

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

func TestBrokerURL(t *testing.T) {
	tests := []struct {
		addr, want string
		wantErr    bool
	}{
		{"", "amqp://guest:guest@127.0.0.1:5672/", false},
		{"127.0.0.1:5673", "amqp://guest:guest@127.0.0.1:5673/", false},
		{":5672", "amqp://guest:guest@127.0.0.1:5672/", false},
		{"[::1]:5672", "amqp://guest:guest@[::1]:5672/", false},
		{"amqp://u:p@h:1234/vh", "amqp://u:p@h:1234/vh", false},
		{"localhost", "", true},
		{"http://x:1/", "", true},
	}
	for _, tt := range tests {
		got, err := brokerURL(tt.addr)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("brokerURL(%q) = %q, %v; want %q, err=%v", tt.addr, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"amqp://u:secret@h:1/v", "amqp://u:xxxxx@h:1/v"},
		{"amqp://h:1/", "amqp://h:1/"},
		{"127.0.0.1:5672", "127.0.0.1:5672"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"orders", true},
		{"a-b_c.d9", true},
		{"", false},
		{"a:b", false},
		{"a b", false},
		{"é", false},
		{string(make([]byte, maxNameLen+1)), false},
	}
	for _, tt := range tests {
		if err := validName("x", tt.name); (err == nil) != tt.ok {
			t.Errorf("validName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestHeartbeatFor(t *testing.T) {
	tests := []struct{ in, want time.Duration }{
		{10 * time.Second, 5 * time.Second},
		{time.Second, time.Second},
		{time.Hour, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := heartbeatFor(tt.in); got != tt.want {
			t.Errorf("heartbeatFor(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBatchIndex(t *testing.T) {
	b := &batch{first: 10, state: make([]uint8, 3)}
	tests := []struct {
		tag uint64
		i   int
		ok  bool
	}{{9, 0, false}, {10, 0, true}, {12, 2, true}, {13, 0, false}}
	for _, tt := range tests {
		i, ok := b.index(tt.tag)
		if i != tt.i || ok != tt.ok {
			t.Errorf("index(%d) = %d, %v; want %d, %v", tt.tag, i, ok, tt.i, tt.ok)
		}
	}
	var nilBatch *batch
	if _, ok := nilBatch.index(1); ok {
		t.Error("nil batch matched a tag")
	}
}

func TestResult(t *testing.T) {
	if err := result(nil); err != nil {
		t.Errorf("result(nil) = %v", err)
	}
	if err := result([]error{nil, nil}); err != nil {
		t.Errorf("all nil: %v", err)
	}
	err := result([]error{nil, driver.ErrRejected})
	if !driver.Confirmed(err, 2, 0) || driver.Confirmed(err, 2, 1) || !errors.Is(err, driver.ErrRejected) {
		t.Errorf("partial: %v", err)
	}
}

func TestClientVersion(t *testing.T) {
	if v := clientVersion(); v != pinnedClientVersion {
		t.Errorf("clientVersion() = %q, want %q (go.mod pin)", v, pinnedClientVersion)
	}
}

func TestNewUnreachable(t *testing.T) {
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()
	// A listener that accepts and never answers the AMQP handshake.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, addr := range []string{closedAddr, silent.Addr().String()} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := New(ctx, driver.Config{Addr: addr, OpTimeout: 500 * time.Millisecond})
		cancel()
		if !errors.Is(err, driver.ErrUnreachable) {
			t.Errorf("New(%s) = %v, want ErrUnreachable", addr, err)
		}
	}
	// Cancelling the context ends the handshake too.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = New(ctx, driver.Config{Addr: silent.Addr().String(), OpTimeout: time.Hour})
	if !errors.Is(err, driver.ErrUnreachable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled New = %v, want ErrUnreachable and context.Canceled", err)
	}
}

func TestNewBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, driver.Config{Profile: "bogus"}); err == nil {
		t.Error("bogus profile accepted")
	}
	if _, err := New(ctx, driver.Config{Addr: "no-port"}); err == nil || errors.Is(err, driver.ErrUnreachable) {
		t.Errorf("bad address: %v", err)
	}
}

func TestRabbitPromise(t *testing.T) {
	for _, tc := range []struct {
		profile driver.Profile
		synced  bool
		mode    string
	}{
		{driver.Durable, true, "2 (persistent)"},
		{driver.Fast, false, "1 (transient)"},
		{driver.Unsafe, false, "1 (transient)"},
	} {
		du := rabbitPromise(tc.profile, 2)
		if du.Synced != tc.synced || du.Settings["delivery_mode"] != tc.mode || du.Settings["queues"] != "2" || du.Promise == "" {
			t.Errorf("rabbitPromise(%s) = %+v, want synced %v, delivery_mode %s", tc.profile, du, tc.synced, tc.mode)
		}
	}
}

func TestBrokerURLs(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		want    []string
		wantErr bool
	}{
		{"127.0.0.1:5682", []string{"amqp://guest:guest@127.0.0.1:5682/"}, false},
		{"127.0.0.1:5682, 127.0.0.1:5683", []string{"amqp://guest:guest@127.0.0.1:5682/", "amqp://guest:guest@127.0.0.1:5683/"}, false},
		{"amqp://u:p@h1:1/v,h2:2", []string{"amqp://u:p@h1:1/v", "amqp://guest:guest@h2:2/"}, false},
		{"127.0.0.1:5682,", nil, true},
		{"127.0.0.1:5682,nonsense", nil, true},
	} {
		got, err := brokerURLs(tc.addr)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("brokerURLs(%q) = %v, %v; want %v, err=%v", tc.addr, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestEndpointsFailOver: dial skips a node that refuses and remembers the
// one that answered; quorum queues only for a durable driver on several
// nodes.
func TestEndpointsFailOver(t *testing.T) {
	dead := "amqp://guest:guest@127.0.0.1:1/"
	e := newEndpoints([]string{dead, dead})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := e.dial(ctx, time.Second, "test"); err == nil {
		t.Fatal("dial to two refusing nodes succeeded")
	} else if n := strings.Count(err.Error(), "connect "); n != 2 {
		t.Fatalf("error names %d nodes, want 2: %v", n, err)
	}
	for _, tc := range []struct {
		urls    int
		profile driver.Profile
		quorum  bool
	}{{1, driver.Durable, false}, {3, driver.Durable, true}, {3, driver.Fast, false}} {
		d := &Driver{url: newEndpoints(make([]string, tc.urls)), profile: tc.profile}
		if d.quorum() != tc.quorum {
			t.Errorf("%d nodes, %s: quorum %v, want %v", tc.urls, tc.profile, d.quorum(), tc.quorum)
		}
	}
}
