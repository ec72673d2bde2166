package rabbitmq

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/mqbench/mqbench/adapters/driver"
)

var _ driver.ReplicaReader = (*Driver)(nil)

// listener is one entry of the management API's overview listeners.
type listener struct {
	Node     string `json:"node"`
	Protocol string `json:"protocol"`
	IP       string `json:"ip_address"`
	Port     int    `json:"port"`
}

// Replicas implements driver.ReplicaReader through the management API
// (Config.ManagementURL): the queue of dest's first group names its leader
// (a classic queue: its node) and its online members (a stream's too), and the overview's
// AMQP listeners map each node to its client address. The API shows no
// member's Raft log position, so an online member counts as in sync.
func (d *Driver) Replicas(ctx context.Context, dest driver.Destination) (string, []string, error) {
	if err := validate(dest); err != nil {
		return "", nil, err
	}
	vhost, err := d.vhost()
	if err != nil {
		return "", nil, err
	}
	name := queueName(dest.Name, dest.Groups[0])
	var q queueInfo
	var ls []listener
	_, err = d.withManagement(ctx, func(get getter) error {
		var ov struct {
			Listeners []listener `json:"listeners"`
		}
		if err := get(queuePath(vhost, name), &q); err != nil {
			return fmt.Errorf("queue %s: %w", name, err)
		}
		if err := get("overview", &ov); err != nil {
			return fmt.Errorf("overview: %w", err)
		}
		ls = ov.Listeners
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("rabbitmq: replicas of %s: %w", name, err)
	}
	return queueReplicas(q, ls)
}

// queueReplicas maps q's leader and online members to AMQP addresses.
func queueReplicas(q queueInfo, ls []listener) (string, []string, error) {
	addr := map[string]string{}
	for _, l := range ls {
		if l.Protocol == "amqp" {
			addr[l.Node] = net.JoinHostPort(l.IP, strconv.Itoa(l.Port))
		}
	}
	leader, online := q.Leader, q.Online
	if q.Type == "classic" || q.Leader == "" {
		leader, online = q.Node, []string{q.Node}
	}
	la, ok := addr[leader]
	if !ok {
		return "", nil, fmt.Errorf("rabbitmq: queue %s: leader %q has no AMQP listener in the overview", q.Name, leader)
	}
	var inSync []string
	for _, m := range online {
		if a, ok := addr[m]; ok {
			inSync = append(inSync, a)
		}
	}
	return la, inSync, nil
}
