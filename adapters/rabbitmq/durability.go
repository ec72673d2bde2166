package rabbitmq

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Durability implements driver.DurabilityReader. AMQP 0.9.1 cannot read a
// queue's properties, but the broker refuses (PRECONDITION_FAILED) a
// queue.declare whose durable flag or x-arguments differ from the queue's:
// so each group's queue is declared again as durable with Provision's
// arguments, and the broker's acceptance is the reading. Persistence of
// the messages and confirms are the producer's settings.
func (d *Driver) Durability(ctx context.Context, dest driver.Destination) (driver.Durability, error) {
	if err := validate(dest); err != nil {
		return driver.Durability{}, err
	}
	if d.kind == streamQueues {
		return d.streamDurability(ctx, dest)
	}
	args := queueArgsFor(dest, d.quorumFor(dest))
	err := d.withChannel(ctx, "durability of "+dest.Name, func(ch *amqp.Channel, call func(string, func() error) error) error {
		for _, g := range dest.Groups {
			q := queueName(dest.Name, g)
			if err := call("redeclare queue "+q+" as durable", func() error {
				_, err := ch.QueueDeclare(q, true, false, false, false, args)
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return driver.Durability{}, fmt.Errorf("rabbitmq: read durability of %q: %w", dest.Name, err)
	}
	if d.quorumFor(dest) {
		names := make([]string, len(dest.Groups))
		for i, g := range dest.Groups {
			names[i] = queueName(dest.Name, g)
		}
		qs, src, rerr := d.readQueues(ctx, names)
		return quorumPromise(len(names), len(d.url.urls), qs, src, rerr), nil
	}
	return rabbitPromise(d.profile, len(dest.Groups)), nil
}

// quorumPromise states what a durable confirm means once the broker
// accepted the redeclare of n queues as quorum queues on a cluster whose
// address lists nodes nodes. The members are read from the management API
// (qs, from src); when that read failed (rerr), the replica count is what a
// quorum queue of that cluster size holds by default (every node up to the
// initial group size), and the promise says it is assumed.
func quorumPromise(n, nodes int, qs []queueInfo, src string, rerr error) driver.Durability {
	set := map[string]string{
		"queue.durable":   "true",
		"queues":          strconv.Itoa(n),
		"x-queue-type":    "quorum",
		"delivery_mode":   "2 (persistent)",
		"publish_confirm": "on",
		"cluster_nodes":   strconv.Itoa(nodes) + " listed in the address",
	}
	if rerr != nil {
		majority := nodes/2 + 1
		set["members"] = "not read: " + rerr.Error()
		return driver.Durability{
			Settings: set, Source: "queue.declare equivalence check (x-queue-type=quorum) on every group's queue; members assumed", Replicas: majority, Synced: true,
			Promise: fmt.Sprintf("quorum queues (Raft): confirmed once a majority (%d of %d members, assuming one per listed node) has written and fsynced the message; the member count is assumed, not read back", majority, nodes),
		}
	}
	fewest, leaders, online := 0, []string{}, 0
	for i, q := range qs {
		if q.Type != "quorum" || !q.Durable {
			set["x-queue-type"] = q.Type + " (queue " + q.Name + ")"
		}
		if i == 0 || len(q.Members) < fewest {
			fewest = len(q.Members)
		}
		leaders = append(leaders, q.Leader)
		online += len(q.Online)
	}
	set["members"] = fmt.Sprintf("%d per queue at least (%s)", fewest, strings.Join(qs[0].Members, ", "))
	set["leaders"] = strings.Join(leaders, ", ")
	set["online_members"] = strconv.Itoa(online) + " in all"
	majority := fewest/2 + 1
	return driver.Durability{
		Settings: set, Source: "queue.declare equivalence check (x-queue-type=quorum), and each queue's members read from the management API (" + src + ")",
		Replicas: majority, Synced: set["x-queue-type"] == "quorum", Verified: true,
		Promise: fmt.Sprintf("quorum queues (Raft): confirmed once a majority (%d of %d members, read back) has written and fsynced the message", majority, fewest),
	}
}

// rabbitPromise states what a confirm means once the broker accepted the
// durable redeclare of n queues.
func rabbitPromise(p driver.Profile, n int) driver.Durability {
	set := map[string]string{
		"queue.durable":   "true",
		"queues":          strconv.Itoa(n),
		"x-queue-type":    "classic (none declared)",
		"delivery_mode":   "1 (transient)",
		"publish_confirm": "on",
	}
	du := driver.Durability{Settings: set, Source: "queue.declare equivalence check on every group's queue; delivery mode and confirms are the producer's", Verified: true, Replicas: 1}
	switch p {
	case driver.Durable:
		set["delivery_mode"] = "2 (persistent)"
		du.Synced = true
		du.Promise = "persistent message in durable classic queues: confirmed once written and fsynced to disk"
	case driver.Fast:
		du.Promise = "transient message: confirmed once in broker memory (may be paged to disk, not fsynced)"
	default:
		set["publish_confirm"] = "off"
		du.Replicas = 0
		du.Promise = "none: published without confirms (unsafe profile)"
	}
	return du
}
