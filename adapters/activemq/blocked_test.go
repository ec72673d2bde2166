package activemq

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// TestRefusals: an ERROR frame refusing a send for lack of memory or store
// (producer flow control with sendFailIfNoSpace), however wrapped, becomes
// one block event with the broker's message; other failures do not.
func TestRefusals(t *testing.T) {
	memory := &stompclient.BrokerError{Message: "javax.jms.ResourceAllocationException: Usage Manager Memory Limit reached. Stopping producer (ID:x) to prevent flooding queue://q."}
	store := &stompclient.BrokerError{Message: "", Body: "Persistent store is Full, 100% of 1073741824. Stopping producer (ID:y)"}
	other := &stompclient.BrokerError{Message: "User name [x] or password is invalid."}
	tests := []struct {
		name   string
		err    error
		reason string // "" = no event
	}{
		{"memory limit in a SendError", &driver.SendError{Errs: []error{nil, fmt.Errorf("activemq: send not confirmed: %w", memory)}}, memory.Message},
		{"store full, message in the body", fmt.Errorf("transaction of 5 messages: %w", store), store.Body},
		{"other broker error", other, ""},
		{"receipt timeout says nothing", fmt.Errorf("activemq: %w", stompclient.ErrNoReceipt), ""},
		{"plain error", errors.New("boom"), ""},
		{"no error", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Driver
			at := time.Unix(50, 0)
			d.refused.note(tt.err, at)
			evs := d.BlockEvents()
			if tt.reason == "" {
				if len(evs) != 0 {
					t.Fatalf("events %+v, want none", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].Reason != tt.reason || evs[0].Source != "ERROR frame" || !evs[0].Start.Equal(at) || !evs[0].End.Equal(at) {
				t.Fatalf("events %+v, want one instant with reason %q", evs, tt.reason)
			}
		})
	}
}
