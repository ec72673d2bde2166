package activemq

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

var _ driver.BlockReporter = (*Driver)(nil)

// maxRefusals bounds the refusals a driver keeps; older ones are dropped.
const maxRefusals = 4096

// refusals records the ERROR frames in which ActiveMQ refused a send for
// lack of memory or store: producer flow control with sendFailIfNoSpace
// (a javax.jms.ResourceAllocationException such as "Usage Manager Memory
// Limit reached. Stopping producer ..." or "Persistent store is Full").
// Without sendFailIfNoSpace the broker does not say anything: it withholds
// the receipt until space frees, and the Send is only slow (or times out
// with errNoReceipt); that is not recorded here. The zero value is ready
// and safe for concurrent use.
type refusals struct {
	mu     sync.Mutex
	events []driver.BlockEvent
}

// resourceRefusal returns the broker's message when err carries an ERROR
// frame refusing a send for lack of a resource.
func resourceRefusal(err error) (string, bool) {
	var be *stompclient.BrokerError
	if !errors.As(err, &be) {
		return "", false
	}
	text := be.Message + " " + be.Body
	low := strings.ToLower(text)
	for _, s := range []string{"resourceallocationexception", "usage manager", "store is full", "stopping producer", "producer-flow-control"} {
		if strings.Contains(low, s) {
			msg := strings.TrimSpace(be.Message)
			if msg == "" {
				msg = strings.TrimSpace(be.Body)
			}
			if len(msg) > 240 {
				msg = msg[:240] + "..."
			}
			return msg, true
		}
	}
	return "", false
}

// note records a refusal when err (a Send's result) carries one; one
// Send adds at most one event.
func (r *refusals) note(err error, at time.Time) {
	if err == nil {
		return
	}
	reason, ok := resourceRefusal(err)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) >= maxRefusals {
		r.events = append(r.events[:0], r.events[1:]...)
	}
	r.events = append(r.events, driver.BlockEvent{Start: at, End: at, Source: "ERROR frame", Reason: reason})
}

func (r *refusals) snapshot() []driver.BlockEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]driver.BlockEvent(nil), r.events...)
}

// BlockEvents implements driver.BlockReporter: the sends ActiveMQ refused
// with an ERROR frame for lack of memory or store (producer flow control
// with sendFailIfNoSpace), the most recent 4096, as instants (End equals
// Start) with the broker's message as the reason. A broker that only
// withholds receipts under flow control reports nothing here.
func (d *Driver) BlockEvents() []driver.BlockEvent { return d.refused.snapshot() }
