package stompclient

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

// fakeBroker is a STOMP 1.2 server for one connection: it answers CONNECT,
// sends two MESSAGE frames after a SUBSCRIBE, answers every receipt, and
// records the frames the client sent after the SUBSCRIBE.
type fakeBroker struct {
	ln net.Listener

	mu     sync.Mutex
	frames []string // "COMMAND" or "COMMAND tx", in arrival order
}

func startFakeBroker(t *testing.T) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBroker{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go b.serve()
	return b
}

func (b *fakeBroker) serve() {
	nc, err := b.ln.Accept()
	if err != nil {
		return
	}
	defer nc.Close()
	r, w := frame.NewReader(nc), frame.NewWriter(nc)
	for {
		f, err := r.Read()
		if err != nil {
			return
		}
		if f == nil {
			continue // heart-beat
		}
		switch f.Command {
		case frame.CONNECT:
			_ = w.Write(frame.New(frame.CONNECTED, frame.Version, "1.2"))
			continue
		case frame.SUBSCRIBE:
			for _, id := range []string{"m1", "m2"} {
				m := frame.New(frame.MESSAGE, frame.Subscription, f.Header.Get(frame.Id), frame.Ack, id, frame.Destination, "/queue/q")
				m.Body = []byte(id)
				_ = w.Write(m)
			}
		default:
			b.record(f)
		}
		if id, ok := f.Header.Contains(frame.Receipt); ok {
			_ = w.Write(frame.New(frame.RECEIPT, frame.ReceiptId, id))
		}
	}
}

func (b *fakeBroker) record(f *frame.Frame) {
	s := f.Command
	if _, ok := f.Header.Contains(frame.Transaction); ok && f.Command != frame.BEGIN && f.Command != frame.COMMIT {
		s += " in tx"
	}
	b.mu.Lock()
	b.frames = append(b.frames, s)
	b.mu.Unlock()
}

func (b *fakeBroker) sent() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.frames, ", ")
}

// TestSettleFrames checks the frames Ack and Nack send: Ack never puts an
// ACK in a transaction, and Nack puts the originals' ACKs in its
// transaction only for a broker that applies them at COMMIT (Artemis
// applies such an ACK at once, so a failed COMMIT would lose the message).
func TestSettleFrames(t *testing.T) {
	tests := []struct {
		name             string
		transactionalAck bool
		nack             bool
		want             string
	}{
		{"ack", false, false, "ACK, ACK"},
		{"ack, transactional broker", true, false, "ACK, ACK"},
		{"nack, ack after commit", false, true, "BEGIN, SEND in tx, SEND in tx, COMMIT, ACK, ACK"},
		{"nack, ack in the transaction", true, true, "BEGIN, SEND in tx, ACK in tx, SEND in tx, ACK in tx, COMMIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startFakeBroker(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cs, err := NewConsumer(ctx, ConsumerConfig{
				Broker: "fake",
				Queue:  "/queue/q",
				Dial: func(ctx context.Context) (*Conn, error) {
					return Dial(ctx, b.ln.Addr().String(), 5*time.Second, slog.New(slog.DiscardHandler))
				},
				TransactionalAck: tt.transactionalAck,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			ds, err := cs.Receive(ctx, 2)
			for err == nil && len(ds) < 2 {
				var more []*driver.Delivery
				more, err = cs.Receive(ctx, 2-len(ds))
				ds = append(ds, more...)
			}
			if err != nil {
				t.Fatal(err)
			}
			settle := cs.Ack
			if tt.nack {
				settle = cs.Nack
			}
			if err := settle(ctx, ds); err != nil {
				t.Fatal(err)
			}
			if got := b.sent(); got != tt.want {
				t.Errorf("frames %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTxIDReuse checks that a released transaction id is handed out again
// and that one in use never is.
func TestTxIDReuse(t *testing.T) {
	b := startFakeBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, b.ln.Addr().String(), 5*time.Second, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, b2 := c.TxID(), c.TxID()
	if a == b2 {
		t.Fatalf("two transactions in use share id %q", a)
	}
	c.ReleaseTx(a)
	if got := c.TxID(); got != a {
		t.Fatalf("after releasing %q, TxID = %q", a, got)
	}
	if got := c.TxID(); got == a || got == b2 {
		t.Fatalf("TxID = %q, an id still in use", got)
	}
}
