package rabbitmq

// RabbitMQ streams (x-queue-type=stream) over AMQP 0.9.1: the
// "rabbitmq-stream" variant of this adapter. It shares the connection,
// producer, confirm and admin code with the classic-queue path; what differs
// is here and in streamconsumer.go.
//
// Mapping of the driver contract:
//
//   - A Destination is a durable direct exchange "mqbench:<name>" and
//     max(1, Partitions) streams "mqbench:<name>~<i>", stream i bound with
//     the routing key "<i>". Streams are append-only logs that consumers
//     read without removing anything, so every group reads the same streams
//     (fan-out without a queue per group).
//   - A producer is the classic one (confirms pipelined, mandatory
//     publishes); it routes a message to partition FNV-1a(key) mod
//     partitions and carries the key in the "mqbench-key" header, so one
//     key keeps its order.
//   - A consumer subscribes (basic.consume with manual acks, basic.qos
//     prefetch and x-stream-offset) to the partitions its group assigns it:
//     the consumers of one group in one Driver share the partitions (i mod
//     members), so they compete as in a Kafka consumer group, and are
//     reassigned when one joins or leaves.
//   - Positions: streams over AMQP 0.9.1 have no server-side offset
//     tracking (the broker's offset tracking is the stream protocol's), so
//     the Driver keeps each group's position in memory: the lowest offset
//     delivered and not yet acked, else the one after the highest acked.
//     A consumer that reopens a group on the same Driver resumes there
//     (acked messages are not read again, unacked ones are). A group the
//     Driver has no position for (a new group, or any group after the
//     process restarted) starts at the first message the stream retains,
//     with or without FromStart: it re-reads rather than misses, so a
//     restart costs duplicates, never messages.
//   - Acks only return credit to the broker; the stream keeps everything.
//     Nack is unsupported (a stream closes the channel of a basic.nack or
//     basic.reject), there is no redelivered flag, no max length with
//     reject-publish (streams have retention by size or age only), no
//     depth over AMQP 0.9.1, no transactions.
//   - Durability: streams write every message to their segment files
//     whatever the delivery mode, and confirm once a quorum of the
//     stream's replicas has written it, but never fsync (RabbitMQ's
//     streams guide, "Data Safety"): a confirm survives a broker restart,
//     not an OS crash or power loss of the node. Durable and Fast are
//     therefore the same on streams, and Durability reports Synced=false.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// streamProtocol says, in every result and report, what the variant speaks
// and what a group's position is.
const streamProtocol = protocol + " to stream queues (x-stream-offset); group positions are kept in mqbench's memory, so a new process re-reads a group from the stream's first message"

// StreamName is the broker name of the stream variant on the command line.
// It runs on the same broker as Name (the launcher's "rabbitmq").
const StreamName = "rabbitmq-stream"

// queueKind chooses what a Driver's destinations are made of.
type queueKind int

const (
	classicQueues queueKind = iota // one durable classic queue per group (New)
	streamQueues                   // partition streams shared by all groups (NewStream)
)

// NewStream connects like New, but the destinations it provisions are
// RabbitMQ streams (see the description of the variant in stream.go). It
// has the type driver.Constructor.
func NewStream(ctx context.Context, cfg driver.Config) (driver.Driver, error) {
	return connect(ctx, cfg, streamQueues)
}

// DescribeStream returns the stream variant's static description, without
// I/O.
func DescribeStream() driver.Info {
	return driver.Info{
		Name:          StreamName,
		Title:         "RabbitMQ (streams)",
		Client:        clientModule,
		ClientVersion: clientVersion(),
		Protocol:      streamProtocol,
		Capabilities:  streamCapabilities(),
	}
}

// streamCapabilities are what RabbitMQ streams do through this adapter.
func streamCapabilities() driver.Capabilities {
	return driver.Capabilities{
		Nack:               false, // basic.nack closes a stream consumer's channel
		RedeliveryFlag:     false, // a re-read is a new delivery to the broker
		PerKeyOrder:        true,  // a key maps to one partition stream, read in order
		CompetingConsumers: true,  // a group's consumers in one Driver share its partitions
		FanOut:             true,  // every group reads the same streams
		Replay:             true,  // a new group starts at the first retained message
		Persistent:         false, // confirmed, written, never fsynced: not the durable promise
		MaxLengthReject:    false, // streams have retention, not x-max-length with reject-publish
		NativeTransaction:  false,
		Depth:              false, // no stream length over AMQP 0.9.1
		MaxBatch:           0,
	}
}

// streamArgs are the x-arguments every partition stream is declared with.
func streamArgs() amqp.Table { return amqp.Table{"x-queue-type": "stream"} }

// streamName is partition i of a stream destination. '~' cannot occur in
// destination or group names, so it never meets a classic group queue.
func streamName(dest string, i int) string { return namePrefix + dest + "~" + strconv.Itoa(i) }

// partitionCount is the number of partition streams of dest.
func partitionCount(dest driver.Destination) int { return max(1, dest.Partitions) }

// partitionOf maps a message key to one of n partitions (FNV-1a).
func partitionOf(key []byte, n int) int {
	h := fnv.New32a()
	_, _ = h.Write(key)
	return int(h.Sum32() % uint32(n))
}

// provisionStreams declares the direct exchange and the partition streams and
// binds them; it registers every group with the Driver (keeping the position
// of a group it knows). MaxLength is refused with errors.ErrUnsupported. The
// cleanup deletes the streams, their messages and the exchange, and forgets
// the groups' positions.
func (d *Driver) provisionStreams(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if dest.MaxLength > 0 {
		return nil, fmt.Errorf("%s: max length %d: %w (streams have retention by size or age, no x-max-length with reject-publish)", StreamName, dest.MaxLength, errors.ErrUnsupported)
	}
	ex := exchangeName(dest.Name)
	n := partitionCount(dest)
	err := d.withChannel(ctx, "provision "+dest.Name, func(ch *amqp.Channel, call func(string, func() error) error) error {
		if err := call("declare exchange "+ex, func() error {
			return ch.ExchangeDeclare(ex, amqp.ExchangeDirect, true, false, false, false, nil)
		}); err != nil {
			return preconditionHint(err)
		}
		for i := range n {
			q := streamName(dest.Name, i)
			if err := call("declare stream "+q, func() error {
				_, err := ch.QueueDeclare(q, true, false, false, false, streamArgs())
				return err
			}); err != nil {
				return preconditionHint(err)
			}
			if err := call("bind stream "+q, func() error {
				return ch.QueueBind(q, strconv.Itoa(i), ex, false, nil)
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, g := range dest.Groups {
		d.streams.group(dest.Name, g, n)
	}
	cleanup := func(ctx context.Context) error {
		d.streams.forget(dest.Name, dest.Groups)
		return d.withChannel(ctx, "delete "+dest.Name, func(ch *amqp.Channel, call func(string, func() error) error) error {
			var errs []error
			for i := range n {
				q := streamName(dest.Name, i)
				errs = append(errs, call("delete stream "+q, func() error {
					_, err := ch.QueueDelete(q, false, false, false)
					return err
				}))
			}
			errs = append(errs, call("delete exchange "+ex, func() error {
				return ch.ExchangeDelete(ex, false, false)
			}))
			return errors.Join(errs...)
		})
	}
	return cleanup, nil
}

// preconditionHint explains a PRECONDITION_FAILED on a declare.
func preconditionHint(err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
		return fmt.Errorf("%w (it exists with another type or other arguments, e.g. as a classic destination: delete it or use another destination name)", err)
	}
	return err
}

// streamDurability reads back that every partition is a stream (a durable
// redeclare with x-queue-type=stream, which the broker refuses with
// PRECONDITION_FAILED for any other queue type) and states what a confirm
// means on a stream.
func (d *Driver) streamDurability(ctx context.Context, dest driver.Destination) (driver.Durability, error) {
	n := partitionCount(dest)
	err := d.withChannel(ctx, "durability of "+dest.Name, func(ch *amqp.Channel, call func(string, func() error) error) error {
		for i := range n {
			q := streamName(dest.Name, i)
			if err := call("redeclare "+q+" as a durable stream", func() error {
				_, err := ch.QueueDeclare(q, true, false, false, false, streamArgs())
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return driver.Durability{}, fmt.Errorf("%s: read durability of %q: %w", StreamName, dest.Name, err)
	}
	return streamPromise(d.profile, n), nil
}

// streamPromise states what a confirm means once the broker accepted the
// durable stream redeclare of n partitions.
func streamPromise(p driver.Profile, n int) driver.Durability {
	set := map[string]string{
		"queue.durable":   "true",
		"x-queue-type":    "stream",
		"partitions":      strconv.Itoa(n),
		"publish_confirm": "on",
		"fsync":           "never (streams leave flushing to the OS page cache)",
	}
	du := driver.Durability{
		Settings: set,
		Source:   "queue.declare equivalence check (x-queue-type=stream) on every partition; the no-fsync rule is RabbitMQ's documented stream behaviour; replica count not readable over AMQP 0.9.1",
		Replicas: 1,
		Verified: false,
	}
	switch p {
	case driver.Durable, driver.Fast:
		du.Promise = "written to the stream's segment file by a quorum of its replicas (one replica per cluster node; 1 assumed on a single node, AMQP 0.9.1 cannot count them) before the confirm, never fsynced: survives a broker restart, not an OS crash or power loss; durable and fast are the same on streams"
	default:
		set["publish_confirm"] = "off"
		du.Replicas = 0
		du.Verified = true
		du.Promise = "none: published without confirms (unsafe profile)"
	}
	return du
}
