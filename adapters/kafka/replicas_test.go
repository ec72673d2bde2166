package kafka

import (
	"errors"
	"strings"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
)

// TestPartitionReplicas: partition 0's leader and ISR as host:port, and
// each way metadata can fail to name them.
func TestPartitionReplicas(t *testing.T) {
	b := func(port int) kafkago.Broker { return kafkago.Broker{Host: "127.0.0.1", Port: port} }
	for _, tt := range []struct {
		name       string
		ps         []kafkago.Partition
		leader     string
		isr        string
		wantErrSub string
	}{
		{"leader and isr", []kafkago.Partition{{ID: 1, Leader: b(9)}, {ID: 0, Leader: b(9093), Isr: []kafkago.Broker{b(9093), b(9094)}}},
			"127.0.0.1:9093", "127.0.0.1:9093,127.0.0.1:9094", ""},
		{"no leader during an election", []kafkago.Partition{{ID: 0, Isr: []kafkago.Broker{b(9094)}}}, "", "127.0.0.1:9094", "no leader"},
		{"partition error", []kafkago.Partition{{ID: 0, Error: errors.New("leader not available")}}, "", "", "leader not available"},
		{"no partition 0", []kafkago.Partition{{ID: 3}}, "", "", "no partition 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leader, isr, err := partitionReplicas(tt.ps)
			if leader != tt.leader || strings.Join(isr, ",") != tt.isr {
				t.Errorf("leader %q isr %v, want %q %q", leader, isr, tt.leader, tt.isr)
			}
			if (err == nil) != (tt.wantErrSub == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErrSub)) {
				t.Errorf("err %v, want %q", err, tt.wantErrSub)
			}
		})
	}
}
