// Package kafka is the mqbench adapter for Apache Kafka, built on
// github.com/segmentio/kafka-go.
//
// Mapping of the driver contract:
//
//   - Provision creates the topic through the admin API (CreateTopics) with
//     Destination.Partitions partitions, waits (bounded by Config.OpTimeout)
//     until every partition has a leader, then commits, for each group in
//     Destination.Groups that has no committed position yet, the current end
//     offset of every partition (marked as Provision's). A group therefore
//     sees every message sent after Provision, however late its consumer
//     joins, and nothing older (unless its consumer asks for FromStart: see
//     NewConsumer). Consumer group ids are "<topic>.<group>", so equal group
//     names on different destinations never share a Kafka group.
//   - A Producer sends with the low-level kafka-go Client.Produce, one
//     request per partition and Send batch (so no batching timer ever delays
//     a Send; there is no kafka-go Writer and so no BatchTimeout), with
//     RequiredAcks set explicitly per profile: Durable = acks=all, Fast =
//     acks=1; Unsafe queues the messages for a background sender (acks=1)
//     and returns at once. The partition is chosen by kafka-go's Hash
//     balancer on Message.Key, and one partition's messages of one Send go
//     out in order, one request at a time, so per-key order holds.
//     Retriable failures are retried within Config.OpTimeout (which may
//     duplicate: kafka-go has no idempotent producer).
//   - A Consumer is a kafka-go Reader with a GroupID: FetchMessage, deliver,
//     and CommitMessages after Ack; never ReadMessage, which commits before
//     processing. Kafka keeps one committed offset per partition, so the
//     offset committed is the end of the contiguous acknowledged prefix of
//     each partition: an unacknowledged delivery holds back the commit of
//     the later ones and comes back (with them) after the consumer closes.
//     Commits are pipelined (see Ack) and flushed by Close. Nack is
//     unsupported. There is no redelivery flag.
//   - The broker version is left empty: Kafka does not tell its version over
//     the wire protocol (ApiVersions ranges are shared by several releases,
//     and guessing a release from them would be a guess), so whoever started
//     the broker must record it (the launcher pins it).
//
// Every network operation is bounded by Config.OpTimeout; the waits for topic
// leaders and for consumer group assignments are bounded too, and their
// durations are logged at info level through Config.Logger.
//
// Broker compatibility: kafka-go v0.4.51 joins groups with JoinGroup v1,
// which Kafka 4.0.0 removed and 4.0.1 restored: use Kafka 4.0.1 or later
// (tested with 4.1.1 and 4.4.0).
package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

const (
	// DefaultAddr is the broker address used when Config.Addr is empty.
	DefaultAddr = "127.0.0.1:9092"
	// Name is the adapter name.
	Name = "kafka"

	clientModule   = "github.com/segmentio/kafka-go"
	clientFallback = "v0.4.51"
	clientID       = "mqbench"
)

var _ driver.Constructor = New

// Driver is a connection to one Kafka cluster. It implements driver.Driver
// and driver.DepthReader; its methods are safe for concurrent use.
type Driver struct {
	cfg       driver.Config
	log       *slog.Logger
	addrs     []string
	acks      kafkago.RequiredAcks
	transport *kafkago.Transport
	client    *kafkago.Client
	dialer    *kafkago.Dialer
	info      driver.Info
	stopBG    context.CancelFunc

	mu     sync.Mutex
	open   map[io.Closer]struct{}
	closed bool
}

var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.DepthReader = (*Driver)(nil)
)

// New connects to the Kafka cluster at cfg.Addr (a comma-separated bootstrap
// list; empty means DefaultAddr). It sends an ApiVersions and a Metadata
// request, bounded by ctx and cfg.Timeout(), and returns an error wrapping
// driver.ErrUnreachable when no bootstrap broker answers them.
func New(ctx context.Context, cfg driver.Config) (driver.Driver, error) {
	d, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func open(ctx context.Context, cfg driver.Config) (*Driver, error) {
	addrs, err := parseAddrs(cfg.Addr)
	if err != nil {
		return nil, err
	}
	acks, err := requiredAcks(cfg.EffectiveProfile())
	if err != nil {
		return nil, err
	}
	log := cfg.Log().With("adapter", Name)

	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout())
	defer cancel()
	start := time.Now()
	rc, err := dialRaw(pctx, addrs)
	if err == nil {
		_, err = rc.clusterMetadata()
		rc.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", driver.ErrUnreachable, err) // the caller names broker and address
	}
	log.Debug("kafka preflight ok", "addr", strings.Join(addrs, ","), "took", time.Since(start))

	bg, stop := context.WithCancel(context.Background())
	timeout := cfg.Timeout()
	transport := &kafkago.Transport{
		DialTimeout: timeout,
		IdleTimeout: 30 * time.Second,
		// Short, so a topic provisioned through another Driver is routable
		// soon; the refresh is one Metadata request per period.
		MetadataTTL: time.Second,
		ClientID:    clientID,
		Context:     bg,
	}
	d := &Driver{
		cfg:       cfg,
		log:       log,
		addrs:     addrs,
		acks:      acks,
		transport: transport,
		client:    &kafkago.Client{Addr: kafkago.TCP(addrs...), Timeout: timeout, Transport: transport},
		dialer:    &kafkago.Dialer{Timeout: timeout, ClientID: clientID, DualStack: true},
		stopBG:    stop,
		open:      make(map[io.Closer]struct{}),
	}
	d.info = Describe()
	return d, nil
}

// Describe returns the adapter's Info without connecting to a broker (for
// `mqbench list`). A connected Driver's Info is the same: the adapter never
// learns the broker version (see the package doc).
func Describe() driver.Info {
	return driver.Info{
		Name:          Name,
		Title:         "Kafka",
		Client:        clientModule,
		ClientVersion: clientVersion(),
		Protocol:      "Kafka protocol",
		BrokerVersion: "",
		Capabilities:  capabilities(),
	}
}

// capabilities are what the adapter promises; adapters/drivertest checks
// them against the broker.
func capabilities() driver.Capabilities {
	return driver.Capabilities{
		Nack:               false, // Kafka has one offset per partition and group
		RedeliveryFlag:     false, // Kafka does not say a record was delivered before
		PerKeyOrder:        true,
		CompetingConsumers: true,
		FanOut:             true,
		Replay:             true,
		Persistent:         true,
		MaxLengthReject:    false,
		NativeTransaction:  false,
		Depth:              true,
		MaxBatch:           0,
	}
}

// requiredAcks maps a profile to the acknowledgement level a produce request
// asks for.
func requiredAcks(p driver.Profile) (kafkago.RequiredAcks, error) {
	switch p {
	case driver.Durable:
		return kafkago.RequireAll, nil
	case driver.Fast:
		return kafkago.RequireOne, nil
	case driver.Unsafe:
		// Not acks=0: kafka-go v0.4.51's Transport silently lost acks=0
		// requests sent back to back (measured here, with no fault),
		// which would make a negative control report loss for no
		// reason. Unsafe sends acks=1 requests without waiting for them
		// (see producer.Send).
		return kafkago.RequireOne, nil
	}
	return 0, fmt.Errorf("kafka: unknown profile %q: %w", p, errors.ErrUnsupported)
}

// parseAddrs splits a comma-separated bootstrap list.
func parseAddrs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return []string{DefaultAddr}, nil
	}
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("kafka: bad address %q: want host:port", a)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("kafka: bad address %q: want host:port[,host:port...]", s)
	}
	return out, nil
}

// clientVersion reads kafka-go's version from the build information.
func clientVersion() string { return driver.ClientVersion(clientModule, clientFallback) }

// Info describes the adapter. BrokerVersion is empty: see the package doc.
func (d *Driver) Info() driver.Info { return d.info }

// checkOpen fails with driver.ErrClosed once d is closed.
func (d *Driver) checkOpen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return driver.ErrClosed
	}
	return nil
}

// track registers an open producer or consumer; it fails once d is closed.
func (d *Driver) track(c io.Closer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return driver.ErrClosed
	}
	d.open[c] = struct{}{}
	return nil
}

func (d *Driver) untrack(c io.Closer) {
	d.mu.Lock()
	delete(d.open, c)
	d.mu.Unlock()
}

// Close closes the producers and consumers still open and the connections.
// It is idempotent.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	open := make([]io.Closer, 0, len(d.open))
	for c := range d.open {
		open = append(open, c)
	}
	d.mu.Unlock()

	var errs []error
	for _, c := range open {
		if err := c.Close(); err != nil && !errors.Is(err, driver.ErrClosed) {
			errs = append(errs, err)
		}
	}
	d.transport.CloseIdleConnections()
	d.stopBG()
	return errors.Join(errs...)
}

// opCtx bounds ctx by the operation timeout.
func (d *Driver) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.cfg.Timeout())
}
