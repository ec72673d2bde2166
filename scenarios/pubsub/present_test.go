package pubsub

import (
	"strings"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
)

func TestPresentation(t *testing.T) {
	tests := []struct {
		name    string
		a       result.Accounting
		wantErr string
	}{
		{"accepted", result.Accounting{Sent: 10, Confirmed: 10, Received: 10}, ""},
		{"nothing sent", result.Accounting{}, "sent 0"},
		{"a message lost", result.Accounting{Sent: 10, Confirmed: 10, Received: 9, Lost: 1}, "lost 1"},
		{"unconfirmed", result.Accounting{Sent: 10, Confirmed: 9, Received: 9}, "confirmed 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Scenario{}.Accept(&result.Result{Accounting: tt.a}, driver.Capabilities{})
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Accept: %v, want %q", err, tt.wantErr)
			}
		})
	}
	r := &result.Result{Throughput: result.Throughput{ReceivedPerS: 2000}}
	if s := (Scenario{}).Scoring(r); !s.Throughput.Ok || s.Throughput.Value != 2000 {
		t.Errorf("throughput %+v, want scored at 2000", s.Throughput)
	}
}
