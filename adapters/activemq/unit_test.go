package activemq

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

func TestEscapeGroupInjective(t *testing.T) {
	tests := []struct{ in, want string }{
		{"g", "g"},
		{"a-b", "a-b"},
		{"a.b", "a_db"},
		{"a_db", "a__db"},
		{"a_b", "a__b"},
		{"_", "__"},
		{".", "_d"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := escapeGroup(tt.in)
		if got != tt.want {
			t.Errorf("escapeGroup(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, ".") {
			t.Errorf("escapeGroup(%q) = %q contains a dot", tt.in, got)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("escapeGroup(%q) = escapeGroup(%q) = %q", tt.in, prev, got)
		}
		seen[got] = tt.in
	}
}

func TestCheckDest(t *testing.T) {
	tests := []struct {
		name string
		dest driver.Destination
		ok   bool
	}{
		{"plain", driver.Destination{Name: "orders", Groups: []string{"g"}}, true},
		{"dots and dashes", driver.Destination{Name: "a.b-c_d", Groups: []string{"g.1", "h"}}, true},
		{"empty name", driver.Destination{Name: "", Groups: []string{"g"}}, false},
		{"wildcard", driver.Destination{Name: "a.>", Groups: []string{"g"}}, false},
		{"star", driver.Destination{Name: "a*", Groups: []string{"g"}}, false},
		{"slash", driver.Destination{Name: "a/b", Groups: []string{"g"}}, false},
		{"leading dot", driver.Destination{Name: ".a", Groups: []string{"g"}}, false},
		{"double dot", driver.Destination{Name: "a..b", Groups: []string{"g"}}, false},
		{"no groups", driver.Destination{Name: "a"}, false},
		{"bad group", driver.Destination{Name: "a", Groups: []string{"g h"}}, false},
		{"empty group", driver.Destination{Name: "a", Groups: []string{""}}, false},
		{"too long", driver.Destination{Name: strings.Repeat("a", 201), Groups: []string{"g"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDest(tt.dest)
			if (err == nil) != tt.ok {
				t.Fatalf("checkDest(%+v) = %v, want ok=%v", tt.dest, err, tt.ok)
			}
		})
	}
}

func TestBrokerVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ActiveMQ/6.3.1", "6.3.1"},
		{"ActiveMQ/5.17.2", "5.17.2"},
		{"ActiveMQ", "ActiveMQ"},
		{"", ""},
		{"odd/", "odd/"},
	}
	for _, tt := range tests {
		if got := brokerVersion(tt.in); got != tt.want {
			t.Errorf("brokerVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	info := Describe()
	c := info.Capabilities
	if info.Name != Name || info.BrokerVersion != "" || info.ClientVersion == "" {
		t.Fatalf("%+v", info)
	}
	if c.MaxLengthReject || c.Replay || c.Depth || c.NativeTransaction {
		t.Fatalf("capabilities claim what ActiveMQ over STOMP cannot do: %+v", c)
	}
}

// fakeBroker is a scripted STOMP server on 127.0.0.1. handle runs once per
// accepted connection after the CONNECT frame was read.
type fakeBroker struct {
	ln     net.Listener
	wg     sync.WaitGroup
	handle func(r *frame.Reader, w *frame.Writer, nc net.Conn)
}

func newFakeBroker(t *testing.T, handle func(r *frame.Reader, w *frame.Writer, nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBroker{ln: ln, handle: handle}
	var mu sync.Mutex
	var conns []net.Conn
	fb.wg.Add(1)
	go func() {
		defer fb.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			fb.wg.Add(1)
			go func() {
				defer fb.wg.Done()
				defer nc.Close()
				r, w := frame.NewReader(nc), frame.NewWriter(nc)
				if f, err := r.Read(); err != nil || f == nil || f.Command != frame.CONNECT {
					return
				}
				fb.handle(r, w, nc)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		fb.wg.Wait()
	})
	return ln.Addr().String()
}

func connected(w *frame.Writer, heartBeat string) {
	_ = w.Write(frame.New(frame.CONNECTED, frame.Version, "1.2", frame.Server, "Fake/1.0", frame.HeartBeat, heartBeat))
}

func TestNewUnreachable(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	// A server that accepts TCP and never answers.
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
	// A server that answers with something that is not STOMP.
	garbage := newFakeBroker(t, func(r *frame.Reader, w *frame.Writer, nc net.Conn) {
		_, _ = nc.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n\x00"))
	})
	tests := []struct{ name, addr string }{
		{"refused", closedAddr},
		{"hung", hung.Addr().String()},
		{"not stomp", garbage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			d, err := New(ctx, driver.Config{Addr: tt.addr, OpTimeout: 300 * time.Millisecond})
			if !errors.Is(err, driver.ErrUnreachable) {
				t.Fatalf("New = %v, %v; want ErrUnreachable", d, err)
			}
			if ctx.Err() != nil {
				t.Fatal("New outlived its own timeout")
			}
			if !strings.Contains(err.Error(), tt.addr) {
				t.Fatalf("error does not name the address: %v", err)
			}
		})
	}
}

func TestNewRejectsBadProfile(t *testing.T) {
	if _, err := New(context.Background(), driver.Config{Profile: "bogus"}); err == nil || errors.Is(err, driver.ErrUnreachable) {
		t.Fatalf("bad profile: %v", err)
	}
}

func TestConnectError(t *testing.T) {
	addr := newFakeBroker(t, func(r *frame.Reader, w *frame.Writer, nc net.Conn) {
		_ = w.Write(frame.New(frame.ERROR, frame.Message, "login failed"))
	})
	_, err := New(context.Background(), driver.Config{Addr: addr, OpTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "login failed") {
		t.Fatalf("err = %v", err)
	}
}

// TestSilentBrokerDetected: a broker that stops sending heart-beats fails
// the connection and the pending Send, instead of hanging.
func TestSilentBrokerDetected(t *testing.T) {
	addr := newFakeBroker(t, func(r *frame.Reader, w *frame.Writer, nc net.Conn) {
		connected(w, "250,250") // promises heart-beats, never sends one
		for {
			if _, err := r.Read(); err != nil {
				return
			}
		}
	})
	cfg := driver.Config{Addr: addr, OpTimeout: time.Second}
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dest := driver.Destination{Name: "x", Groups: []string{"g"}}
	p, err := d.NewProducer(context.Background(), dest, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = p.Send(ctx, msgs("k", 0, 3))
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Send = %v (ctx %v); want a connection error before the test deadline", err, ctx.Err())
	}
	for i := range 3 {
		if driver.Confirmed(err, 3, i) {
			t.Fatalf("message %d counted as confirmed", i)
		}
	}
}

// TestReceiptErrorFailsOnlyItsMessage: an ERROR frame naming one receipt
// fails that message; the others are confirmed and the connection lives.
func TestReceiptErrorFailsOnlyItsMessage(t *testing.T) {
	addr := newFakeBroker(t, func(r *frame.Reader, w *frame.Writer, nc net.Conn) {
		connected(w, "0,0")
		n := 0
		for {
			f, err := r.Read()
			if err != nil {
				return
			}
			if f == nil {
				continue
			}
			id, ok := f.Header.Contains(frame.Receipt)
			if !ok {
				continue
			}
			if f.Command == frame.SEND {
				n++
			}
			if f.Command == frame.SEND && n == 2 {
				_ = w.Write(frame.New(frame.ERROR, frame.ReceiptId, id, frame.Message, "no space"))
				continue
			}
			_ = w.Write(frame.New(frame.RECEIPT, frame.ReceiptId, id))
		}
	})
	d, err := New(context.Background(), driver.Config{Addr: addr, Profile: driver.Fast, OpTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dest := driver.Destination{Name: "x", Groups: []string{"g"}}
	p, err := d.NewProducer(context.Background(), dest, driver.ProducerOptions{MaxInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	err = p.Send(context.Background(), msgs("k", 0, 4))
	var se *driver.SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send = %v, want *SendError", err)
	}
	for i, want := range []bool{true, false, true, true} {
		if got := driver.Confirmed(err, 4, i); got != want {
			t.Errorf("message %d confirmed = %v, want %v (%v)", i, got, want, se.Errs[i])
		}
	}
	if !strings.Contains(se.Errs[1].Error(), "no space") {
		t.Errorf("error does not carry the broker's message: %v", se.Errs[1])
	}
	if err := p.Send(context.Background(), msgs("k", 4, 1)); err != nil {
		t.Fatalf("connection did not survive a receipt ERROR: %v", err)
	}
}

// TestUnansweredReceiptsTimeOut: a broker that keeps heart-beating but never
// confirms makes Send fail after the operation timeout, not hang.
func TestUnansweredReceiptsTimeOut(t *testing.T) {
	addr := newFakeBroker(t, func(r *frame.Reader, w *frame.Writer, nc net.Conn) {
		connected(w, "0,0")
		for {
			if _, err := r.Read(); err != nil {
				return
			}
		}
	})
	d, err := New(context.Background(), driver.Config{Addr: addr, OpTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p, err := d.NewProducer(context.Background(), driver.Destination{Name: "x", Groups: []string{"g"}}, driver.ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = p.Send(ctx, msgs("k", 0, 10))
	if !errors.Is(err, stompclient.ErrNoReceipt) || ctx.Err() != nil {
		t.Fatalf("Send = %v, want stompclient.ErrNoReceipt before the test deadline", err)
	}
	if driver.Confirmed(err, 10, 0) {
		t.Fatal("unanswered message counted as confirmed")
	}
}
