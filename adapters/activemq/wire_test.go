package activemq

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

// wireCount is what a fake broker saw of one durable Send.
type wireCount struct {
	begins, sends, commits  int // frames
	sendReceipts            int // SEND frames asking for their own receipt
	largestTx               int // SENDs in the largest transaction
	keyed                   int // SENDs carrying JMSXGroupID
	maxOutstanding          int // receipts (COMMIT or SEND) awaited at once
	persistentSendsWithTxID int
}

// TestDurableSendWireShape pins what a durable Send puts on the wire, the
// shape the side-by-side baseline (cmd/plainloop) copies: with the default
// window a batch of up to half of it is one transaction (BEGIN, persistent
// SENDs with no receipt of their own, one COMMIT with a receipt: one
// journal sync per batch), a larger batch is cut into transactions of half
// the window with at most two COMMITs outstanding (a window of 2 makes
// them single SENDs, each with its receipt), and a keyed message carries
// JMSXGroupID. The fake broker holds every receipt until 20 ms pass with
// no frame, so a second outstanding one is seen when the adapter
// pipelines.
func TestDurableSendWireShape(t *testing.T) {
	tests := []struct {
		name   string
		batch  int
		key    string
		window int
		want   wireCount
	}{
		{"batch of 100, default window", 100, "k", 0,
			wireCount{begins: 1, sends: 100, commits: 1, largestTx: 100, keyed: 100, maxOutstanding: 1, persistentSendsWithTxID: 100}},
		{"unkeyed batch of 100", 100, "", 0,
			wireCount{begins: 1, sends: 100, commits: 1, largestTx: 100, maxOutstanding: 1, persistentSendsWithTxID: 100}},
		{"batch of 300 cut at half the window", 300, "k", 0,
			wireCount{begins: 3, sends: 300, commits: 3, largestTx: 128, keyed: 300, maxOutstanding: 2, persistentSendsWithTxID: 300}},
		{"window of 2: a receipt per SEND, no transaction", 3, "k", 2,
			wireCount{sends: 3, sendReceipts: 3, keyed: 3, maxOutstanding: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got wireCount
			addr := newFakeBroker(t, func(r *frame.Reader, w *frame.Writer, nc net.Conn) {
				connected(w, "0,0")
				var held []string // COMMIT receipts not yet answered
				inTx := 0
				answer := func() {
					for _, id := range held {
						_ = w.Write(frame.New(frame.RECEIPT, frame.ReceiptId, id))
					}
					held = held[:0]
				}
				for {
					_ = nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
					f, err := r.Read()
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						answer()
						continue
					}
					if err != nil {
						return
					}
					if f == nil {
						continue
					}
					mu.Lock()
					switch f.Command {
					case frame.BEGIN:
						got.begins++
						inTx = 0
					case frame.SEND:
						got.sends++
						if f.Header.Get(frame.Transaction) != "" {
							inTx++
							got.largestTx = max(got.largestTx, inTx)
						}
						if id, ok := f.Header.Contains(frame.Receipt); ok {
							got.sendReceipts++
							held = append(held, id)
							got.maxOutstanding = max(got.maxOutstanding, len(held))
						}
						if _, ok := f.Header.Contains(hdrGroupID); ok {
							got.keyed++
						}
						if f.Header.Get(hdrPersistent) == "true" && f.Header.Get(frame.Transaction) != "" {
							got.persistentSendsWithTxID++
						}
					case frame.COMMIT:
						got.commits++
						held = append(held, f.Header.Get(frame.Receipt))
						got.maxOutstanding = max(got.maxOutstanding, len(held))
					default:
						if id, ok := f.Header.Contains(frame.Receipt); ok {
							_ = w.Write(frame.New(frame.RECEIPT, frame.ReceiptId, id))
						}
					}
					mu.Unlock()
				}
			})
			d, err := New(context.Background(), driver.Config{Addr: addr, Profile: driver.Durable, OpTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			p, err := d.NewProducer(context.Background(), driver.Destination{Name: "x", Groups: []string{"g"}}, driver.ProducerOptions{MaxInFlight: tt.window})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ms := msgs(tt.key, 0, tt.batch)
			if tt.key == "" {
				for i := range ms {
					ms[i].Key = nil
				}
			}
			if err := p.Send(context.Background(), ms); err != nil {
				t.Fatalf("Send: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if got != tt.want {
				t.Errorf("wire %+v\n want %+v", got, tt.want)
			}
		})
	}
}
