package kafka

import (
	"context"
	"fmt"
	"net"
	"strconv"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

var _ driver.ReplicaReader = (*Driver)(nil)

// Replicas implements driver.ReplicaReader from the topic's metadata:
// partition 0's leader and its in-sync replicas (ISR), as the brokers
// advertise them.
func (d *Driver) Replicas(ctx context.Context, dest driver.Destination) (string, []string, error) {
	md, err := d.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{dest.Name}})
	if err != nil {
		return "", nil, fmt.Errorf("kafka: metadata of %q: %w", dest.Name, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) == 0 {
		return "", nil, fmt.Errorf("kafka: metadata of %q: no partition (%v)", dest.Name, md.Topics)
	}
	return partitionReplicas(md.Topics[0].Partitions)
}

// partitionReplicas returns partition 0's leader and in-sync replicas of
// ps as host:port.
func partitionReplicas(ps []kafkago.Partition) (string, []string, error) {
	for _, p := range ps {
		if p.ID != 0 {
			continue
		}
		if p.Error != nil {
			return "", nil, fmt.Errorf("kafka: partition 0: %w", p.Error)
		}
		addr := func(b kafkago.Broker) string { return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)) }
		var isr []string
		for _, b := range p.Isr {
			isr = append(isr, addr(b))
		}
		if p.Leader.Host == "" {
			return "", isr, fmt.Errorf("kafka: partition 0 has no leader now")
		}
		return addr(p.Leader), isr, nil
	}
	return "", nil, fmt.Errorf("kafka: no partition 0")
}
