// Package rabbitmq is the mqbench driver for RabbitMQ over AMQP 0.9.1, built
// on github.com/rabbitmq/amqp091-go.
//
// Mapping of the driver contract:
//
//   - A Destination is a durable fanout exchange "mqbench:<name>" with one
//     durable classic queue "mqbench:<name>:<group>" per group, bound to it
//     (fan-out). Consumers of a group consume that queue and compete.
//   - Destination.MaxLength sets x-max-length with x-overflow=reject-publish
//     on every group queue: a publish to a full queue is nacked and Send
//     reports it as driver.ErrRejected. With several groups, a message
//     refused by one full queue may still be stored in the others.
//   - A producer owns one connection and one channel. In the Durable and
//     Fast profiles the channel is in confirm mode and Send pipelines up to
//     MaxInFlight publishes before waiting for their confirms (Durable:
//     persistent delivery mode; Fast: transient). Every publish is
//     mandatory: a message no queue accepts comes back as basic.return and
//     fails, it is never counted as confirmed. Unsafe publishes transient
//     messages without confirms.
//   - A consumer owns one connection and one channel with basic.qos
//     prefetch; deliveries are acked manually (Ack), or nacked with requeue
//     (Nack); the redelivered flag is passed through.
//   - Every RPC is bounded by Config.OpTimeout, every socket write has a
//     write deadline of the same length, and heartbeats are negotiated at
//     half of it, so a dead or frozen broker surfaces as an error. A
//     producer or consumer whose connection died reconnects on its next
//     Send or Receive; deliveries received on the old connection can no
//     longer be acked (the broker redelivers them).
//   - Destination.Partitions and ConsumerOptions.FromStart are ignored: a
//     group's queue is one FIFO that holds everything sent since Provision.
//   - The message key travels as the routing key (ignored by the fanout
//     exchange), or in the "mqbench-key" header when it is longer than 255
//     bytes.
package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Identification of this adapter.
const (
	// Name is the adapter name used on the command line.
	Name = "rabbitmq"
	// DefaultAddr is the broker address used when Config.Addr is empty.
	DefaultAddr = "127.0.0.1:5672"

	clientModule        = "github.com/rabbitmq/amqp091-go"
	pinnedClientVersion = "v1.16.0"
	protocol            = "AMQP 0.9.1"

	// DefaultMaxInFlight is the pipelining window of Send when
	// ProducerOptions.MaxInFlight is 0.
	DefaultMaxInFlight = 512
	// DefaultPrefetch is the basic.qos prefetch of a consumer when
	// ConsumerOptions.Prefetch is 0.
	DefaultPrefetch = 256

	keyHeader   = "mqbench-key"
	maxShortStr = 255
	namePrefix  = "mqbench:"
)

// New connects to the broker named by cfg.Addr (host:port, or an
// amqp://user:pass@host:port/vhost URL; empty means DefaultAddr with
// guest/guest). The preflight handshake is bounded by ctx and cfg.Timeout();
// when it fails for any reason other than refused credentials the error wraps
// driver.ErrUnreachable. New has the type driver.Constructor.
func New(ctx context.Context, cfg driver.Config) (driver.Driver, error) {
	return connect(ctx, cfg, classicQueues)
}

// connect is New for either kind of destination (NewStream is the other).
func connect(ctx context.Context, cfg driver.Config, kind queueKind) (*Driver, error) {
	profile := cfg.EffectiveProfile()
	if _, err := driver.ParseProfile(string(profile)); err != nil {
		return nil, fmt.Errorf("rabbitmq: %w", err)
	}
	us, err := brokerURLs(cfg.Addr)
	if err != nil {
		return nil, err
	}
	u := newEndpoints(us)
	conn, raw, err := u.dial(ctx, cfg.Timeout(), "mqbench-admin")
	if err != nil {
		if isAuthError(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", driver.ErrUnreachable, err)
	}
	d := &Driver{
		kind:      kind,
		url:       u,
		cfg:       cfg,
		profile:   profile,
		timeout:   cfg.Timeout(),
		producers: map[*producer]struct{}{},
		consumers: map[driver.Consumer]struct{}{},
		blocks:    &blockLog{},
	}
	d.admin = &link{conn: conn, raw: raw, timeout: d.timeout, log: cfg.Log(), done: make(chan struct{})}
	go d.admin.watchClose(conn.NotifyClose(make(chan *amqp.Error, 1)), nil)
	d.info = Describe()
	if kind == streamQueues {
		d.info = DescribeStream()
		d.streams = &groupBook{groups: map[groupKey]*groupState{}}
	}
	d.info.BrokerVersion, _ = conn.Properties["version"].(string)
	if d.quorum() {
		// A quorum queue learns that it is full only after the Raft
		// commit, so pipelined publishes overshoot x-max-length: the
		// reject is not exact.
		d.info.Capabilities.MaxLengthReject = false
	}
	return d, nil
}

// Describe returns the adapter's static description, without I/O: the
// broker version is empty (Driver.Info has it).
func Describe() driver.Info {
	return driver.Info{
		Name:          Name,
		Title:         "RabbitMQ",
		Client:        clientModule,
		ClientVersion: clientVersion(),
		Protocol:      protocol,
		Capabilities:  capabilities(),
	}
}

// capabilities are what RabbitMQ classic queues do through this adapter.
func capabilities() driver.Capabilities {
	return driver.Capabilities{
		Nack:               true,
		RedeliveryFlag:     true,
		PerKeyOrder:        true, // one channel publishes in order into FIFO queues
		CompetingConsumers: true,
		FanOut:             true,
		Replay:             false, // classic queues keep no log for late groups
		Persistent:         true,  // durable queues + persistent messages + confirms
		MaxLengthReject:    true,
		NativeTransaction:  false, // AMQP tx is not a half message with check-back
		Depth:              true,
		MaxBatch:           0,
	}
}

// clientVersion reads the amqp091-go version this binary was built with.
func clientVersion() string { return driver.ClientVersion(clientModule, pinnedClientVersion) }

// Driver is the driver.Driver of one RabbitMQ broker. Admin operations
// (Provision, Depth, cleanup) run on a shared admin connection, one
// short-lived channel each; producers and consumers get a connection of their
// own so that flow control on publishers never stalls acks, and a broken one
// does not affect others.
type Driver struct {
	kind    queueKind  // classic queues (New) or streams (NewStream)
	streams *groupBook // streams only: each group's position, kept here
	// url are the nodes it connects to (one, or a cluster's).
	url     *endpoints
	cfg     driver.Config
	profile driver.Profile
	timeout time.Duration
	info    driver.Info

	mu        sync.Mutex
	admin     *link
	closed    bool
	producers map[*producer]struct{}
	consumers map[driver.Consumer]struct{} // classic and stream consumers

	blocks *blockLog // connection.blocked periods (BlockEvents)
}

// quorum reports whether Provision declares quorum queues: in the durable
// profile when the address lists more than one node of a cluster, so that a
// confirm means the message is replicated. The fast and unsafe profiles
// keep classic queues (in memory, on one node).
func (d *Driver) quorum() bool { return d.profile == driver.Durable && d.url.cluster() }

// quorumFor is quorum for dest: an Unreplicated destination is a classic
// queue, which lives on the one node that declared it.
func (d *Driver) quorumFor(dest driver.Destination) bool { return d.quorum() && !dest.Unreplicated }

// Info describes the adapter and the broker; no I/O.
func (d *Driver) Info() driver.Info { return d.info }

// adminConn returns the admin connection, reconnecting when it died.
func (d *Driver) adminConn(ctx context.Context) (*amqp.Connection, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, driver.ErrClosed
	}
	if d.admin.alive() && !d.admin.conn.IsClosed() {
		return d.admin.conn, nil
	}
	conn, raw, err := d.url.dial(ctx, d.timeout, "mqbench-admin")
	if err != nil {
		return nil, err
	}
	d.admin = &link{conn: conn, raw: raw, timeout: d.timeout, log: d.cfg.Log(), done: make(chan struct{})}
	go d.admin.watchClose(conn.NotifyClose(make(chan *amqp.Error, 1)), nil)
	return conn, nil
}

// withChannel runs fn on a fresh admin channel. fn bounds each of its RPCs
// with call; the channel is closed afterwards (bounded too).
func (d *Driver) withChannel(ctx context.Context, what string, fn func(ch *amqp.Channel, call func(what string, op func() error) error) error) error {
	conn, err := d.adminConn(ctx)
	if err != nil {
		return fmt.Errorf("rabbitmq: %s: %w", what, err)
	}
	var ch *amqp.Channel
	if err := bounded(ctx, d.timeout, what+": open channel", func() (err error) {
		ch, err = conn.Channel()
		return err
	}); err != nil {
		return err
	}
	defer func() {
		_ = bounded(context.WithoutCancel(ctx), d.timeout, "close channel", ch.Close)
	}()
	call := func(step string, op func() error) error {
		return bounded(ctx, d.timeout, what+": "+step, op)
	}
	return fn(ch, call)
}

// Provision declares the fanout exchange and one durable queue per group,
// bound to it. With MaxLength > 0 each queue gets x-max-length and
// x-overflow=reject-publish. It is idempotent as long as the arguments do not
// change: redeclaring an existing queue with another MaxLength fails with
// the broker's PRECONDITION_FAILED. The cleanup deletes the queues (with any
// messages in them) and the exchange. An Unreplicated destination's queues
// are classic queues, on the node the admin connection is on, even where
// the durable profile would declare quorum queues.
func (d *Driver) Provision(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if err := validate(dest); err != nil {
		return nil, err
	}
	if dest.Unreplicated && d.kind == streamQueues {
		return nil, fmt.Errorf("rabbitmq: destination %q: unreplicated streams: %w", dest.Name, errors.ErrUnsupported)
	}
	if d.kind == streamQueues {
		return d.provisionStreams(ctx, dest)
	}
	if dest.MaxLength > 0 && d.quorumFor(dest) {
		return nil, fmt.Errorf("rabbitmq: destination %q: MaxLength on quorum queues (durable profile on a cluster): %w: the broker applies reject-publish after the Raft commit, so pipelined publishes overshoot the limit", dest.Name, errors.ErrUnsupported)
	}
	ex := exchangeName(dest.Name)
	args := queueArgsFor(dest, d.quorumFor(dest))
	err := d.withChannel(ctx, "provision "+dest.Name, func(ch *amqp.Channel, call func(string, func() error) error) error {
		if err := call("declare exchange "+ex, func() error {
			return ch.ExchangeDeclare(ex, amqp.ExchangeFanout, true, false, false, false, nil)
		}); err != nil {
			return err
		}
		for _, g := range dest.Groups {
			q := queueName(dest.Name, g)
			if err := call("declare queue "+q, func() error {
				_, err := ch.QueueDeclare(q, true, false, false, false, args)
				return err
			}); err != nil {
				var ae *amqp.Error
				if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
					return fmt.Errorf("%w (the queue exists with other arguments: delete it or use another destination name)", err)
				}
				return err
			}
			if err := call("bind queue "+q, func() error {
				return ch.QueueBind(q, "", ex, false, nil)
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cleanup := func(ctx context.Context) error {
		return d.withChannel(ctx, "delete "+dest.Name, func(ch *amqp.Channel, call func(string, func() error) error) error {
			var errs []error
			for _, g := range dest.Groups {
				q := queueName(dest.Name, g)
				errs = append(errs, call("delete queue "+q, func() error {
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

// Depth returns the number of messages ready in group's queue (delivered but
// unacknowledged messages are not counted), read with a passive
// queue.declare.
func (d *Driver) Depth(ctx context.Context, dest driver.Destination, group string) (int64, error) {
	if d.kind == streamQueues {
		return 0, fmt.Errorf("rabbitmq-stream: depth: %w (a group's position is kept by the driver, and AMQP 0.9.1 reports no stream length)", errors.ErrUnsupported)
	}
	if err := validName("destination", dest.Name); err != nil {
		return 0, err
	}
	if err := validName("group", group); err != nil {
		return 0, err
	}
	q := queueName(dest.Name, group)
	var n int64
	err := d.withChannel(ctx, "depth of "+q, func(ch *amqp.Channel, call func(string, func() error) error) error {
		return call("passive declare", func() error {
			info, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
			n = int64(info.Messages)
			return err
		})
	})
	return n, err
}

// NewProducer opens a producer connection and channel, checks that the
// destination's exchange exists, and puts the channel in confirm mode unless
// the profile is Unsafe.
func (d *Driver) NewProducer(ctx context.Context, dest driver.Destination, opts driver.ProducerOptions) (driver.Producer, error) {
	if err := validName("destination", dest.Name); err != nil {
		return nil, err
	}
	p := newProducer(d, dest, opts)
	if _, err := p.session(ctx); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		p.Close()
		return nil, driver.ErrClosed
	}
	d.producers[p] = struct{}{}
	d.mu.Unlock()
	return p, nil
}

// NewConsumer opens a consumer connection and channel with the prefetch and
// starts consuming the group's queue with manual acks.
func (d *Driver) NewConsumer(ctx context.Context, dest driver.Destination, opts driver.ConsumerOptions) (driver.Consumer, error) {
	if err := validate(dest); err != nil {
		return nil, err
	}
	if !contains(dest.Groups, opts.Group) {
		return nil, fmt.Errorf("rabbitmq: group %q is not one of the destination's groups %q", opts.Group, dest.Groups)
	}
	if d.kind == streamQueues {
		return d.newStreamConsumer(ctx, dest, opts)
	}
	c := newConsumer(d, dest, opts)
	if _, err := c.session(ctx); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		c.Close()
		return nil, driver.ErrClosed
	}
	d.consumers[c] = struct{}{}
	d.mu.Unlock()
	return c, nil
}

// forget drops a closed producer or consumer from the driver's books.
func (d *Driver) forget(p *producer, c driver.Consumer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p != nil {
		delete(d.producers, p)
	}
	if c != nil {
		delete(d.consumers, c)
	}
}

// Close closes every producer and consumer still open, then the admin
// connection. Each close is bounded by the operation timeout.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	var ps []*producer
	var cs []driver.Consumer
	for p := range d.producers {
		ps = append(ps, p)
	}
	for c := range d.consumers {
		cs = append(cs, c)
	}
	admin := d.admin
	d.mu.Unlock()
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Close())
	}
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	errs = append(errs, admin.shutdown())
	return errors.Join(errs...)
}

// exchangeName is the fanout exchange of a destination.
func exchangeName(dest string) string { return namePrefix + dest }

// queueName is the queue of one group of a destination. ':' cannot occur in
// names, so distinct (dest, group) pairs never share a queue.
// queueArgs are the x-arguments Provision declares each group's queue with.
func queueArgs(dest driver.Destination) amqp.Table {
	return queueArgsFor(dest, false)
}

// queueArgsFor is queueArgs, plus x-queue-type=quorum when quorum is set.
func queueArgsFor(dest driver.Destination, quorum bool) amqp.Table {
	args := amqp.Table{}
	if quorum {
		args["x-queue-type"] = "quorum"
	}
	if dest.MaxLength > 0 {
		args["x-max-length"] = int64(dest.MaxLength)
		args["x-overflow"] = "reject-publish"
	}
	return args
}

func queueName(dest, group string) string { return namePrefix + dest + ":" + group }

// validate checks a destination's name and groups.
func validate(dest driver.Destination) error {
	if err := validName("destination", dest.Name); err != nil {
		return err
	}
	if len(dest.Groups) == 0 {
		return fmt.Errorf("rabbitmq: destination %q has no groups", dest.Name)
	}
	for _, g := range dest.Groups {
		if err := validName("group", g); err != nil {
			return err
		}
	}
	return nil
}

// maxNameLen keeps "mqbench:<name>:<group>" within AMQP's 255-byte names.
const maxNameLen = 120

// validName accepts letters, digits, '-', '_' and '.', 1 to maxNameLen bytes.
func validName(what, s string) error {
	if s == "" || len(s) > maxNameLen {
		return fmt.Errorf("rabbitmq: %s name %q must have 1 to %d characters", what, s, maxNameLen)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("rabbitmq: %s name %q: only letters, digits, '-', '_' and '.' are allowed", what, s)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
