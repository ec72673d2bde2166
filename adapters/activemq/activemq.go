// Package activemq is the mqbench driver for ActiveMQ Classic over STOMP 1.2,
// built on github.com/go-stomp/stomp/v3 (its frame codec, through the
// client it shares with adapters/artemis, adapters/stompclient, which says
// why not go-stomp's Conn).
//
// Mapping of the driver contract:
//
//   - A Destination is an ActiveMQ virtual topic: producers send to
//     /topic/VirtualTopic.<name>; each group consumes its own queue
//     /queue/Consumer.<group>.VirtualTopic.<name>, to which the broker
//     copies every message (fan-out). Consumers of one group compete on that
//     queue. Provision creates each group queue by subscribing to it once
//     (with a selector no message matches, so nothing is dispatched) and
//     waiting for the broker's receipt; from then on the broker copies every
//     message into it even while no consumer is subscribed. Dots in group
//     names are escaped ("." -> "_d", "_" -> "__") because the broker's
//     Consumer.*. prefix matches exactly one name segment.
//   - Profiles: Durable sends persistent:true, Fast persistent:false, both
//     wait for the broker's RECEIPT before a message counts as confirmed.
//     Unsafe sends persistent:false without receipts.
//   - Pipelining. ActiveMQ handles the frames of one connection in order and,
//     for a persistent message that asks for a receipt, stores it before
//     reading the next frame, so pipelined receipts only hide the network
//     round trip, not the disk sync. In the Durable profile a Send of several
//     messages therefore groups them into STOMP transactions (BEGIN, SENDs,
//     COMMIT with a receipt) of up to half the in-flight window: the COMMIT
//     receipt arrives after the broker wrote the whole batch to its journal,
//     one disk sync for the batch. Two transactions may be outstanding at
//     once. A single-message Send, and every Fast Send, sends each message
//     with its own receipt, with up to MaxInFlight receipts outstanding. A
//     failed transaction fails all its messages (the broker stored none of
//     them, unless only the receipt was lost).
//   - ERROR frames: one naming a receipt fails that operation only; any
//     other ERROR (and any socket error) fails the connection and every
//     operation pending on it.
//   - Per-key order: the key is sent as JMSXGroupID (ActiveMQ message
//     groups: all messages of a group go to one consumer of the queue, in
//     order) and, because the broker does not echo JMSXGroupID in MESSAGE
//     frames, also in the "mqbench-key" header (or "mqbench-key-hex" for a
//     key that is not valid UTF-8).
//   - Consumers subscribe with ack:client-individual and
//     activemq.prefetchSize. Ack sends ACK frames and waits for the receipt
//     of the last one (the broker handles them in order).
//   - Nack. ActiveMQ turns a STOMP NACK into a "poison" acknowledgement:
//     the message goes straight to ActiveMQ.DLQ and is never redelivered
//     (activemq-stomp StompSubscription.onStompMessageNack, 5.17 and 6.3;
//     verified against the broker). Nack therefore re-queues explicitly: in
//     one STOMP transaction it sends a copy of each message (same body, key and
//     persistence, header "mqbench-redelivered" set) to the group's queue
//     and ACKs the original, and waits for the COMMIT receipt. The copy goes
//     to the back of the queue.
//   - Redelivered is true when the broker sets the "redelivered" header (a
//     message dispatched before to a consumer that went away without acking
//     it) or when the message is a Nack copy.
//   - Heart-beats are negotiated in both directions (a quarter of
//     Config.OpTimeout, 250ms..2s); a broker silent for about three
//     intervals fails the connection. Every write has a deadline of
//     Config.OpTimeout and every receipt is awaited at most that long.
//   - A producer or consumer owns one connection. One whose connection died
//     reconnects on its next Send, or within Receive (one attempt per call);
//     deliveries received on the old connection can no longer be acked and
//     the broker redelivers them.
//   - Durability (durability.go) reads KahaDB's journal sync, which no
//     STOMP frame carries, from the broker over HTTP: a Jolokia read of
//     KahaDBSettingsMBean at Config.ManagementURL (default port 8161,
//     /api/jolokia, on the STOMP host; a comma-separated list, one URL per
//     broker of a master/slave group, is tried in turn; a broker list has
//     no default).
//   - Config.Addr may list brokers, comma-separated (a shared-store
//     master/slave group): every connection tries them in turn, from the
//     one that answered last, until one completes the handshake; a slave
//     waiting for the store's lock does not listen. So after the master
//     dies the same producer or consumer reconnects to the new master on
//     its next Send or Receive. A send whose receipt the old master never
//     sent is not confirmed (it may still be in the store).
//   - Not supported: MaxLength (ActiveMQ has no count limit that rejects a
//     send over STOMP; Provision returns errors.ErrUnsupported), replay,
//     depth, native transactional messages. Cleanup cannot delete queues
//     (STOMP has no such command); it drains the group queues instead.
package activemq

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/stompclient"
)

// Identification of this adapter.
const (
	// Name is the adapter name used on the command line.
	Name = "activemq"
	// DefaultAddr is the broker's STOMP address used when Config.Addr is empty.
	DefaultAddr = "127.0.0.1:61613"
	// DefaultMaxInFlight is the pipelining window of Send when
	// ProducerOptions.MaxInFlight is 0.
	DefaultMaxInFlight = 256
	// DefaultPrefetch is the activemq.prefetchSize of a consumer when
	// ConsumerOptions.Prefetch is 0.
	DefaultPrefetch = 256

	clientModule        = "github.com/go-stomp/stomp/v3"
	pinnedClientVersion = "v3.1.3"
	protocol            = "STOMP 1.2"
)

// capabilities are what this driver promises; see the package comment.
func capabilities() driver.Capabilities {
	return driver.Capabilities{
		Nack:               true,
		RedeliveryFlag:     true,
		PerKeyOrder:        true,
		CompetingConsumers: true,
		FanOut:             true,
		Replay:             false,
		Persistent:         true,
		MaxLengthReject:    false,
		NativeTransaction:  false,
		Depth:              false,
		MaxBatch:           0,
	}
}

// Describe returns the driver's static description, without broker I/O
// (BrokerVersion is empty).
func Describe() driver.Info {
	return driver.Info{
		Name:          Name,
		Title:         "ActiveMQ Classic",
		Client:        clientModule,
		ClientVersion: clientVersion(),
		Protocol:      protocol,
		Capabilities:  capabilities(),
	}
}

func clientVersion() string { return driver.ClientVersion(clientModule, pinnedClientVersion) }

// brokerVersion extracts the version from a CONNECTED server header such as
// "ActiveMQ/6.3.1"; other forms are returned whole.
func brokerVersion(server string) string {
	if i := strings.LastIndexByte(server, '/'); i >= 0 && i+1 < len(server) {
		return server[i+1:]
	}
	return server
}

// Driver is a connection factory for one ActiveMQ broker: producers,
// consumers and Provision each use their own STOMP connection. It is safe for
// concurrent use.
type Driver struct {
	cfg     driver.Config
	brokers *brokerList
	profile driver.Profile
	info    driver.Info

	clients stompclient.Clients // open producers and consumers

	refused refusals // resource refusals (BlockEvents)
}

var _ driver.Constructor = New

// New checks that a STOMP 1.2 broker answers at cfg.Addr (DefaultAddr when
// empty) with a CONNECT handshake bounded by ctx and cfg.Timeout(), reads its
// version, and returns a Driver. cfg.Addr may list the brokers of a
// shared-store master/slave group, comma-separated: New, and every
// connection after it, tries them in turn until the live master answers. A failed handshake wraps
// driver.ErrUnreachable. New has the type driver.Constructor.
func New(ctx context.Context, cfg driver.Config) (driver.Driver, error) {
	profile := cfg.EffectiveProfile()
	if _, err := driver.ParseProfile(string(profile)); err != nil {
		return nil, fmt.Errorf("activemq: %w", err)
	}
	brokers := newBrokerList(cfg.Addr)
	c, err := brokers.dial(ctx, cfg.Timeout(), cfg.Log())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", driver.ErrUnreachable, err) // the caller names broker and address
	}
	info := Describe()
	info.BrokerVersion = brokerVersion(c.Server())
	_ = c.Close()
	return &Driver{
		cfg:     cfg,
		brokers: brokers,
		profile: profile,
		info:    info,
		clients: stompclient.Clients{Broker: Name},
	}, nil
}

// Info describes the driver; the broker version is the one read by New.
func (d *Driver) Info() driver.Info { return d.info }

// connect opens a new STOMP connection to the broker, or to the live master
// of the listed brokers.
func (d *Driver) connect(ctx context.Context) (*stompclient.Conn, error) {
	c, err := d.brokers.dial(ctx, d.cfg.Timeout(), d.cfg.Log())
	if err != nil {
		return nil, fmt.Errorf("activemq: %w", err)
	}
	return c, nil
}

// Close closes every producer and consumer still open. It is idempotent.
func (d *Driver) Close() error { return d.clients.CloseAll() }

// track remembers an open producer or consumer so Close can close it; it
// fails once the driver is closed.
func (d *Driver) track(c io.Closer) error { return d.clients.Track(c) }

// untrack forgets a producer or consumer that closed by itself.
func (d *Driver) untrack(c io.Closer) { d.clients.Untrack(c) }

// isClosed reports whether Close ran.
func (d *Driver) isClosed() bool { return d.clients.Closed() }
