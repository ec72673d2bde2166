// Package artemis is the mqbench driver for ActiveMQ Artemis over STOMP 1.2,
// built on go-stomp's frame codec through adapters/stompclient, the client
// it shares with the ActiveMQ Classic adapter (adapters/activemq). The two
// share the connection, the pipelined send and the key headers, not the
// mapping, which follows Artemis's address model:
//
//   - A Destination is a multicast address of its name. Each group is a
//     durable multicast queue "<name>~<group>" on it, which Provision
//     creates through Artemis's management address (createQueue, over STOMP
//     request/reply); from then on the address copies every message into
//     it, consumers or not (fan-out). Producers send to the address with
//     destination-type:MULTICAST. Consumers of a group subscribe to the
//     fully qualified queue name "<name>::<name>~<group>" with
//     subscription-type:MULTICAST and compete on that queue. Cleanup
//     destroys the queues and the address (destroyQueue, management).
//   - Profiles: Durable sends persistent:true and waits for the broker's
//     RECEIPT, which Artemis sends once the message is in its journal; the
//     launcher's broker.xml syncs the journal before that
//     (journal-sync-non-transactional and -transactional, with
//     journal-datasync, i.e. fsync). A Durable Send of several messages
//     groups them into STOMP transactions (BEGIN, SENDs, COMMIT with a
//     receipt) of up to half the in-flight window, one journal sync per
//     transaction, as the ActiveMQ adapter does. Fast sends
//     persistent:false, each with a receipt (pipelined). Unsafe sends
//     persistent:false without receipts.
//   - Durability (driver.DurabilityReader) reads the broker's journal sync
//     settings and each group queue's durability over the management
//     address.
//   - Per-key order: the key is sent as JMSXGroupID (Artemis message
//     groups: one consumer of a queue gets every message of a group, in
//     order) and in the "mqbench-key" header.
//   - Consumers subscribe with ack:client-individual and a
//     consumer-window-size (bytes, Artemis's flow control) of 4 KiB per
//     message of Prefetch.
//     Ack sends one ACK frame per delivery, the last with a receipt. Not
//     in a transaction: Artemis applies an ACK inside a STOMP transaction
//     at once, not at COMMIT, and logs AMQ222070 ("Stomp Transactional
//     acknowledgement is not supported") for each (seen in the broker's
//     log: 160,205 lines in one quick capacity run before this changed).
//   - Nack. Artemis handles a STOMP NACK as an ACK: the message is discarded
//     (verified against the broker), never redelivered. Nack therefore
//     re-queues explicitly: in one STOMP transaction it sends a copy of
//     each message (same body, key and persistence, header
//     "mqbench-redelivered") to the group's queue by its fully qualified
//     name and waits for the COMMIT receipt; then it ACKs the originals.
//     The copy goes to the back of the queue. A connection lost between
//     the two duplicates a message; it never loses one (an ACK inside the
//     transaction would have been applied even if the COMMIT failed).
//   - Redelivered is true when the broker sets the "redelivered" header or
//     for a Nack copy. RedeliveryFlag is not declared: when a consumer
//     leaves with several messages delivered and not acknowledged, Artemis
//     counts only the first as delivered (on a clean close none), so the
//     others come back without the flag (verified against the broker).
//   - Depth (driver.DepthReader) reads the queue's MessageCount over the
//     management address.
//   - Heart-beats, deadlines and reconnection as in adapters/activemq: a
//     producer or consumer owns one connection and dials a new one on its
//     next call when it died.
//   - Not supported: MaxLength (Artemis limits an address, not one queue,
//     by count; Provision returns errors.ErrUnsupported), replay, native
//     transactional messages.
package artemis

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
	Name = "artemis"
	// DefaultAddr is the broker's STOMP address used when Config.Addr is
	// empty (the launcher's STOMP acceptor; ActiveMQ Classic keeps 61613).
	DefaultAddr = "127.0.0.1:61623"
	// DefaultMaxInFlight is the pipelining window of Send when
	// ProducerOptions.MaxInFlight is 0.
	DefaultMaxInFlight = 256
	// DefaultPrefetch is a consumer's window in messages when
	// ConsumerOptions.Prefetch is 0.
	DefaultPrefetch = 256
	// windowPerMessage converts a prefetch in messages into Artemis's
	// consumer-window-size in bytes: room for Prefetch messages of up to
	// 4 KiB with their headers; DefaultPrefetch makes 1 MiB, the default
	// window of Artemis's own core clients.
	windowPerMessage = 4 << 10

	clientModule        = "github.com/go-stomp/stomp/v3"
	pinnedClientVersion = "v3.1.3"
	protocol            = "STOMP 1.2"
)

// capabilities are what this driver promises; see the package comment.
func capabilities() driver.Capabilities {
	return driver.Capabilities{
		Nack:               true,
		RedeliveryFlag:     false, // see the package comment
		PerKeyOrder:        true,
		CompetingConsumers: true,
		FanOut:             true,
		Replay:             false,
		Persistent:         true,
		MaxLengthReject:    false,
		NativeTransaction:  false,
		Depth:              true,
		MaxBatch:           0,
	}
}

// Describe returns the driver's static description, without broker I/O
// (BrokerVersion is empty).
func Describe() driver.Info {
	return driver.Info{
		Name:          Name,
		Title:         "ActiveMQ Artemis",
		Client:        clientModule,
		ClientVersion: driver.ClientVersion(clientModule, pinnedClientVersion),
		Protocol:      protocol,
		Capabilities:  capabilities(),
	}
}

// brokerVersion extracts the version from a CONNECTED server header such as
// "ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine"; other forms
// are returned whole.
func brokerVersion(server string) string {
	product, _, _ := strings.Cut(server, " ")
	if i := strings.LastIndexByte(product, '/'); i >= 0 && i+1 < len(product) {
		return product[i+1:]
	}
	return server
}

// Driver is a connection factory for one Artemis broker: producers,
// consumers, Provision and the management calls each use their own STOMP
// connection. It is safe for concurrent use.
type Driver struct {
	cfg     driver.Config
	addr    string
	profile driver.Profile
	info    driver.Info

	clients stompclient.Clients // open producers and consumers
}

var (
	_ driver.Constructor      = New
	_ driver.DurabilityReader = (*Driver)(nil)
	_ driver.DepthReader      = (*Driver)(nil)
	_ driver.Driver           = (*Driver)(nil)
)

// New checks that a STOMP 1.2 broker answers at cfg.Addr (DefaultAddr when
// empty) with a CONNECT handshake bounded by ctx and cfg.Timeout(), reads its
// version, and returns a Driver. A failed handshake wraps
// driver.ErrUnreachable. New has the type driver.Constructor.
func New(ctx context.Context, cfg driver.Config) (driver.Driver, error) {
	profile := cfg.EffectiveProfile()
	if _, err := driver.ParseProfile(string(profile)); err != nil {
		return nil, fmt.Errorf("artemis: %w", err)
	}
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	c, err := stompclient.Dial(ctx, addr, cfg.Timeout(), cfg.Log())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", driver.ErrUnreachable, err) // the caller names broker and address
	}
	info := Describe()
	info.BrokerVersion = brokerVersion(c.Server())
	_ = c.Close()
	return &Driver{cfg: cfg, addr: addr, profile: profile, info: info, clients: stompclient.Clients{Broker: Name}}, nil
}

// Info describes the driver; the broker version is the one read by New.
func (d *Driver) Info() driver.Info { return d.info }

// connect opens a new STOMP connection to the broker.
func (d *Driver) connect(ctx context.Context) (*stompclient.Conn, error) {
	c, err := stompclient.Dial(ctx, d.addr, d.cfg.Timeout(), d.cfg.Log())
	if err != nil {
		return nil, fmt.Errorf("artemis: %w", err)
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
