// Package driver is the contract between mqbench and a message broker.
//
// An adapter translates this contract to one broker's client library; it
// never measures. Measurement lives in scenarios/probe, which only sees the
// bytes that cross this interface, so every broker is measured with the same
// stick.
//
// The contract is deliberately small, in the spirit of database/sql and the Go
// CDK pubsub driver package:
//
//   - A Driver is one connection (or connection pool) to one broker. It is safe
//     for concurrent use.
//   - A Producer and a Consumer are each used by one goroutine at a time; use
//     one per goroutine to send or receive in parallel. Close may be called
//     from any goroutine, and it unblocks a pending Receive or Send.
//   - Every blocking call takes a context and returns no later than shortly
//     after the context is done. Adapters add their own deadline to each
//     network operation, so a dead or frozen broker surfaces as an error,
//     never as a hang.
//   - What a broker cannot do is reported with errors.ErrUnsupported, and is
//     declared up front in Capabilities.
package driver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Profile names the durability promise a confirmed Send makes.
type Profile string

// The durability profiles. Every result names the profile it ran with, and an
// adapter refuses (with ErrUnsupported) a profile it cannot honour.
const (
	// Fast: confirmed once the broker holds the message in memory
	// (Kafka acks=1; RabbitMQ confirms with transient messages; RocketMQ
	// SEND_OK with asynchronous flush; ActiveMQ receipt with persistent:false).
	Fast Profile = "fast"
	// Durable: confirmed only once the broker has stored the message on disk
	// (Kafka acks=all; RabbitMQ confirms, persistent messages, durable
	// queues; RocketMQ SEND_OK with SYNC_FLUSH; ActiveMQ receipt with
	// persistent:true). The default.
	Durable Profile = "durable"
	// Unsafe: fire and forget. Send returns once the bytes are handed to the
	// client library. Only meant as a negative control in fault tests.
	Unsafe Profile = "unsafe"
)

// Profiles lists the valid profiles, default first.
func Profiles() []Profile { return []Profile{Durable, Fast, Unsafe} }

// ParseProfile returns the named profile or an error listing the valid ones.
func ParseProfile(s string) (Profile, error) {
	for _, p := range Profiles() {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown profile %q (valid: durable, fast, unsafe)", s)
}

// Errors with a meaning every caller can rely on. Adapters wrap them with %w;
// callers test with errors.Is.
var (
	// ErrUnreachable: the broker did not answer a protocol handshake within
	// the preflight deadline. The CLI exits with code 3.
	ErrUnreachable = errors.New("broker unreachable")
	// ErrRejected: the broker definitely refused the message because a
	// destination is full (for example a RabbitMQ queue with
	// x-overflow=reject-publish nacking the publish). The message was not
	// stored. A flash sale treats it as "sold out, try again".
	ErrRejected = errors.New("rejected by broker: destination full")
	// ErrClosed: the producer or consumer was closed.
	ErrClosed = errors.New("closed")
)

// Config is what every adapter constructor takes.
type Config struct {
	// Addr is the broker address, host:port. Empty means the adapter's
	// standard local port on 127.0.0.1.
	Addr string
	// Profile is the durability profile. Empty means Durable.
	Profile Profile
	// Logger receives the adapter's and its client library's logs. Nil
	// means discard.
	Logger *slog.Logger
	// OpTimeout bounds every single network operation. Zero means 10s.
	OpTimeout time.Duration
	// ManagementURL is the broker's HTTP management endpoint, for settings
	// its messaging protocol cannot read (ActiveMQ: the Jolokia URL; a
	// user:password in it is sent as basic authentication). Empty means
	// the adapter's default; adapters that need none ignore it.
	ManagementURL string
}

// Timeout returns c.OpTimeout or its default.
func (c Config) Timeout() time.Duration {
	if c.OpTimeout <= 0 {
		return 10 * time.Second
	}
	return c.OpTimeout
}

// EffectiveProfile returns c.Profile or its default, Durable.
func (c Config) EffectiveProfile() Profile {
	if c.Profile == "" {
		return Durable
	}
	return c.Profile
}

// Log returns c.Logger, or a logger that discards everything.
func (c Config) Log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Constructor builds a connected Driver. It performs a preflight handshake
// bounded by ctx and Config.OpTimeout and wraps ErrUnreachable when the broker
// does not answer. The CLI wires adapters through an explicit name ->
// Constructor table.
type Constructor func(ctx context.Context, cfg Config) (Driver, error)

// Driver is one connection to one broker. Its methods are safe for concurrent
// use.
type Driver interface {
	// Info describes the driver and the broker. It performs no I/O: the
	// broker version is the one read during the preflight handshake.
	Info() Info
	// Provision creates dest on the broker (topic, queues, exchanges, one
	// subscription per group in dest.Groups) and waits until it is usable,
	// so that a message sent after Provision returns reaches every listed
	// group even if that group's consumer subscribes later. It is
	// idempotent. The returned cleanup deletes what Provision created; it is
	// never nil when err is nil.
	Provision(ctx context.Context, dest Destination) (cleanup func(context.Context) error, err error)
	// NewProducer opens a producer on a provisioned destination.
	NewProducer(ctx context.Context, dest Destination, opts ProducerOptions) (Producer, error)
	// NewConsumer subscribes to a provisioned destination as a member of
	// opts.Group. Consumers of the same group compete (each message goes to
	// one of them); each group receives every message (fan-out).
	NewConsumer(ctx context.Context, dest Destination, opts ConsumerOptions) (Consumer, error)
	// Close releases the connection. Producers and consumers opened from
	// the driver must be closed first; Close closes any still open.
	Close() error
}

// Info describes a driver. It is printed by `mqbench list` and recorded in
// every result.
type Info struct {
	Name          string       // adapter name, e.g. "rabbitmq"
	Title         string       // product name for people, e.g. "RabbitMQ (streams)"
	Client        string       // client library module path
	ClientVersion string       // client library version, e.g. "v1.16.0"
	Protocol      string       // wire protocol, e.g. "AMQP 0.9.1"
	BrokerVersion string       // read from the broker; empty if unknown
	Capabilities  Capabilities // what the broker does, verified by drivertest
}

// Capabilities are declared by a driver and verified against behaviour by the
// conformance suite (adapters/drivertest). A declared capability that does not
// hold fails the suite; an undeclared one is skipped, never faked.
type Capabilities struct {
	// Nack: Consumer.Nack makes the broker redeliver the message promptly
	// (to this or another consumer of the group).
	Nack bool `json:"nack"`
	// RedeliveryFlag: a redelivered Delivery has Redelivered set.
	RedeliveryFlag bool `json:"redelivery_flag"`
	// PerKeyOrder: messages of one producer with the same Key reach a
	// consumer in send order (absent failures and redeliveries).
	PerKeyOrder bool `json:"per_key_order"`
	// CompetingConsumers: consumers of one group share the messages, each
	// message to one consumer.
	CompetingConsumers bool `json:"competing_consumers"`
	// FanOut: every group listed in Destination.Groups receives every
	// message.
	FanOut bool `json:"fan_out"`
	// Replay: a new group can read messages sent before it subscribed and
	// after Provision (retained log).
	Replay bool `json:"replay"`
	// Persistent: in the Durable profile, confirmed messages survive a
	// broker restart.
	Persistent bool `json:"persistent"`
	// MaxLengthReject: Destination.MaxLength is enforced by the broker, and
	// a message over the limit fails with ErrRejected.
	MaxLengthReject bool `json:"max_length_reject"`
	// NativeTransaction: the driver implements Transactor.
	NativeTransaction bool `json:"native_transaction"`
	// Depth: the driver implements DepthReader.
	Depth bool `json:"depth"`
	// MaxBatch is the largest batch Send takes at once; 0 means no limit.
	MaxBatch int `json:"max_batch"`
}

// Destination names where messages go and how they are shared out.
type Destination struct {
	// Name of the topic or queue; adapters may add a broker-specific prefix.
	// Letters, digits, '-', '_' and '.'.
	Name string
	// Groups are the consumer groups that must each receive every message,
	// created by Provision. At least one.
	Groups []string
	// Partitions is the number of partitions (Kafka) or queues (RocketMQ)
	// for parallelism; 0 means 1. Brokers without partitions ignore it.
	Partitions int
	// MaxLength, when positive, caps the number of messages waiting in each
	// group's queue. A driver with Capabilities.MaxLengthReject enforces it
	// with ErrRejected; other drivers return ErrUnsupported from Provision,
	// and the caller gates admission itself.
	MaxLength int
	// Unreplicated asks for a destination kept on one node only, even on
	// a replicated cluster: the failover scenario's negative control. On
	// a single node it changes nothing. A driver whose broker protects
	// every destination alike (a shared store, a replicated broker group)
	// returns ErrUnsupported from Provision.
	Unreplicated bool
}

// ProducerOptions tune a producer.
type ProducerOptions struct {
	// MaxInFlight bounds messages sent but not yet confirmed inside one
	// Send (pipelining). 0 means the adapter's default.
	MaxInFlight int
}

// ConsumerOptions tune a consumer.
type ConsumerOptions struct {
	// Group the consumer joins; must be one of Destination.Groups.
	Group string
	// Prefetch bounds deliveries the broker pushes ahead of Ack. 0 means
	// the adapter's default.
	Prefetch int
	// FromStart asks a Replay-capable broker to start a group with no
	// committed position at the oldest retained message.
	FromStart bool
}

// Message is one message to send. Send does not retain Key or Body after it
// returns; the caller may reuse both buffers then.
type Message struct {
	// Key orders and routes: messages with equal keys keep their order on a
	// PerKeyOrder broker. mqbench uses the producer id.
	Key []byte
	// Body is the payload, starting with the envelope (adapters/envelope).
	Body []byte
}

// Delivery is one received message. Key and Body belong to the caller after
// Receive returns. A Delivery must be acknowledged (Ack or Nack) on the
// Consumer that received it.
type Delivery struct {
	Key  []byte
	Body []byte
	// Redelivered is true when the broker says it delivered this message
	// before (only meaningful with Capabilities.RedeliveryFlag).
	Redelivered bool
	// Token is the adapter's private acknowledgement handle. Callers must
	// not touch it.
	Token any
}

// Producer sends messages to one destination. One goroutine at a time.
type Producer interface {
	// Send sends msgs and blocks until the broker confirmed every one per
	// the profile, or until ctx is done. A nil error means all were
	// confirmed. A *SendError says which ones were not; any other error
	// means none of them can be counted as confirmed.
	Send(ctx context.Context, msgs []Message) error
	// Close flushes nothing: messages not confirmed by Send are not
	// confirmed. It unblocks a pending Send.
	Close() error
}

// SendError reports a Send in which some messages were not confirmed.
type SendError struct {
	// Errs has one entry per message of the batch: nil for a confirmed
	// message, the reason for one that was not (wrapping ErrRejected when
	// the broker refused it as over length).
	Errs []error
}

// Error summarises the failures.
func (e *SendError) Error() string {
	n, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	return fmt.Sprintf("%d of %d messages not confirmed: %v", n, len(e.Errs), first)
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (e *SendError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Confirmed reports, for a batch of n messages that Send answered with err,
// whether message i was confirmed.
func Confirmed(err error, n, i int) bool {
	if err == nil {
		return true
	}
	var se *SendError
	if errors.As(err, &se) && len(se.Errs) == n {
		return se.Errs[i] == nil
	}
	return false
}

// MessageErr returns the error of message i in a batch of n answered with err
// (nil when it was confirmed).
func MessageErr(err error, n, i int) error {
	if err == nil {
		return nil
	}
	var se *SendError
	if errors.As(err, &se) && len(se.Errs) == n {
		return se.Errs[i]
	}
	return err
}

// Consumer receives messages of one group. One goroutine at a time, except
// Close.
type Consumer interface {
	// Receive blocks until at least one and at most max deliveries are
	// available, ctx is done (returns ctx.Err()) or the consumer is closed
	// (returns ErrClosed). max <= 0 means 1.
	Receive(ctx context.Context, max int) ([]*Delivery, error)
	// Ack tells the broker the deliveries are processed; they will not be
	// delivered again to the group.
	Ack(ctx context.Context, ds []*Delivery) error
	// Nack hands the deliveries back for redelivery. ErrUnsupported when
	// the broker cannot (then the messages come back only after the
	// consumer closes without acking them, if at all).
	Nack(ctx context.Context, ds []*Delivery) error
	// Close leaves the group. Deliveries not acked are redelivered to the
	// group later, per the broker's semantics. It unblocks Receive.
	Close() error
}

// DepthReader is implemented by drivers that can read how many messages wait
// in a group's queue (Capabilities.Depth).
type DepthReader interface {
	Depth(ctx context.Context, dest Destination, group string) (int64, error)
}

// TxState is the outcome of a local transaction bound to a message.
type TxState int

// Transaction outcomes.
const (
	TxUnknown  TxState = iota // not decided yet: the broker will check back
	TxCommit                  // deliver the message
	TxRollback                // discard the message
)

// String names the state.
func (s TxState) String() string {
	switch s {
	case TxCommit:
		return "commit"
	case TxRollback:
		return "rollback"
	default:
		return "unknown"
	}
}

// Transactor is implemented by drivers with native transactional messages
// (Capabilities.NativeTransaction), such as RocketMQ half messages.
type Transactor interface {
	// NewTxProducer opens a transactional producer. check is called by the
	// broker's check-back for a message whose local transaction outcome was
	// TxUnknown (or lost); it may run on any goroutine, concurrently.
	NewTxProducer(ctx context.Context, dest Destination, check func(ctx context.Context, m Message) TxState) (TxProducer, error)
}

// TxProducer sends messages bound to a local transaction. One goroutine at a
// time.
type TxProducer interface {
	// SendTx stores m as a half (invisible) message, then runs local, then
	// commits or rolls back the message per local's answer. It returns the
	// state the broker was told; the message is visible to consumers only
	// after TxCommit (possibly later, through check-back).
	SendTx(ctx context.Context, m Message, local func(ctx context.Context) TxState) (TxState, error)
	Close() error
}

// ClientVersion returns the version of module (a client library) linked
// into this binary, read from the build information (a replacement's
// version when replaced), or fallback when the binary carries none (test
// binaries, for one).
func ClientVersion(module, fallback string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fallback
	}
	for _, m := range bi.Deps {
		if m.Path != module {
			continue
		}
		if m.Replace != nil && m.Replace.Version != "" {
			return m.Replace.Version
		}
		if m.Version != "" && m.Version != "(devel)" {
			return m.Version
		}
	}
	return fallback
}
