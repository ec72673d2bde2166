// Package rocketmq is the mqbench adapter for Apache RocketMQ (4.x and 5.x),
// built on github.com/apache/rocketmq-client-go/v2 plus a small remoting
// client of its own (internal/remoting) for the administration the Go client
// does not export.
//
// Mapping of the driver contract:
//
//   - Config.Addr is the name server (default 127.0.0.1:9876), or a
//     comma-separated list of the name servers of one cluster
//     ("h1:9876,h2:9876,h3:9876"): the client library gets the whole list,
//     and the adapter's own requests try the name servers in turn. New asks
//     them for the cluster, then asks every master broker for its version
//     (GET_BROKER_RUNTIME_INFO) and configuration (GET_BROKER_CONFIG). When
//     a broker group's master changes (controller mode elects another
//     replica), the adapter re-reads the masters from the name servers
//     after a request to the old one fails; the client library follows the
//     new route within its 30 s route refresh, and sends in between fail
//     (not confirmed).
//   - Destination.Name is the topic, with '.' mapped to '_' (RocketMQ names
//     allow letters, digits, '-', '_', '%' and '|'). Provision creates it
//     with Destination.Partitions queues on every master broker, creates one
//     subscription group per Destination.Groups entry, named
//     "<topic>__<group>" (RocketMQ groups are cluster-wide, and a group must
//     not span topics), together with its %RETRY% topic, commits the oldest retained message of every queue as
//     the position of each group that has none (so a group that subscribes
//     late still gets everything sent after Provision), and waits until the
//     name server routes the topic. Consumers start from the oldest retained
//     message when a group has no position (ConsumeFromFirstOffset), so a
//     position lost in a broker crash costs duplicates, never messages.
//   - Producer: synchronous send; a message is confirmed only when the broker
//     answers SEND_OK. Any other status (FLUSH_DISK_TIMEOUT, ...) is
//     indeterminate and reported as not confirmed. Durable needs a broker
//     with flushDiskType=SYNC_FLUSH, fast one with ASYNC_FLUSH: Durability
//     reads it back and mqbench run refuses a profile the broker
//     contradicts (New does not, so that the refusal names its fix once,
//     in one place); the send timeout is kept
//     above the broker's syncFlushTimeout. Messages are routed to a queue by
//     a hash of Message.Key, so one key keeps its order. Unsafe sends one way.
//   - Consumer: the client's pull consumer (clustering mode: consumers of one
//     group compete, groups fan out) bridged to Receive/Ack. See consumer.go
//     for why not the push consumer.
//   - Nack sends the message back to the broker with delay level 1 (about one
//     second); it returns through the group's %RETRY% topic, or goes to the
//     %DLQ% topic after MaxReconsumeTimes, which is counted (Consumer.Stats,
//     Driver.DeadLetters), never lost.
//   - Transactions: native half messages (Transactor), see tx.go.
//   - Depth reads end offsets and committed positions from the broker;
//     consumers commit every five seconds and on Close, so it lags by that.
//   - Info.BrokerVersion comes from GET_BROKER_RUNTIME_INFO (brokerVersionDesc).
//
// The Go client logs through a package-global logger (rlog); New routes it to
// Config.Logger at warning level and above. With several drivers in one
// process the last New wins, which only matters if their loggers differ (see
// log.go for why that needs the adapter's only package-level variables).
package rocketmq

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/rocketmq/internal/remoting"
)

// DefaultAddr is the name server address used when Config.Addr is empty.
const DefaultAddr = "127.0.0.1:9876"

// ClientModule is the client library the adapter is built on.
const ClientModule = "github.com/apache/rocketmq-client-go/v2"

// MaxReconsumeTimes is how many times a message may be nacked before the
// broker moves it to the group's %DLQ% topic.
const MaxReconsumeTimes = 16

// nackDelayLevel is the broker delay level a nacked message waits (level 1
// is one second in the default messageDelayLevel table).
const nackDelayLevel = 1

// routeWaitMax bounds the wait for a topic route to appear, whatever ctx says.
const routeWaitMax = 60 * time.Second

// brokerInfo is what New learns about one master broker.
type brokerInfo struct {
	name    string
	addr    string
	version string            // e.g. "5.3.3"
	config  map[string]string // broker configuration
}

// Driver is a connection to one RocketMQ cluster. It implements
// driver.Driver, driver.Transactor and driver.DepthReader, and is safe for
// concurrent use.
type Driver struct {
	cfg      driver.Config
	log      *slog.Logger
	namesrvs []string // ip:port of every name server, as configured
	admin    *remoting.Client
	// brokers are the master of every broker group, read by preflight;
	// refreshMasters replaces the addresses under mu.
	bmu         sync.Mutex
	brokers     []brokerInfo
	sendTimeout time.Duration
	id          string // random, makes client instance names unique
	// maxReconsume is the number of redeliveries after which a nacked
	// message goes to the dead-letter topic: MaxReconsumeTimes, lowered by
	// tests.
	maxReconsume int

	mu     sync.Mutex
	seq    int
	open   map[interface{ Close() error }]struct{}
	closed bool
}

var (
	_ driver.Driver      = (*Driver)(nil)
	_ driver.Transactor  = (*Driver)(nil)
	_ driver.DepthReader = (*Driver)(nil)
	_ driver.Constructor = New
)

// New connects to the name server cfg.Addr and performs the preflight: the
// name server must list at least one broker, and every master broker must
// answer with its runtime information and configuration, all within ctx and
// cfg.Timeout(). Failures wrap driver.ErrUnreachable. A Durable profile on a
// broker that does not flush synchronously fails with errors.ErrUnsupported.
//
// New replaces the client library's package-global logger (see the package
// documentation).
func New(ctx context.Context, cfg driver.Config) (driver.Driver, error) {
	d, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func open(ctx context.Context, cfg driver.Config) (*Driver, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	profile := cfg.EffectiveProfile()
	if _, err := driver.ParseProfile(string(profile)); err != nil {
		return nil, err
	}
	d := &Driver{
		cfg:   cfg,
		log:   cfg.Log().With("adapter", "rocketmq"),
		admin: remoting.NewClient(),
		id:    strconv.FormatUint(rand.Uint64()&0xffffffffff, 36),
		open:  map[interface{ Close() error }]struct{}{},

		maxReconsume: MaxReconsumeTimes,
	}
	installClientLogger(cfg.Log())
	for _, a := range splitAddrs(cfg.Addr) {
		addr, err := resolveAddr(ctx, a, cfg.Timeout())
		if err != nil {
			d.admin.Close()
			return nil, err
		}
		d.namesrvs = append(d.namesrvs, addr)
	}
	if err := d.preflight(ctx); err != nil {
		d.admin.Close()
		return nil, err
	}
	d.setSendTimeout()
	return d, nil
}

// resolveAddr checks host:port and resolves a host name to an IP address:
// the client library accepts only ip:port name server addresses. A name
// that does not resolve wraps driver.ErrUnreachable.
func resolveAddr(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return "", fmt.Errorf("rocketmq: name server address %q: want host:port", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("rocketmq: name server address %q: bad port", addr)
	}
	if ip := net.ParseIP(host); ip != nil {
		return addr, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return "", fmt.Errorf("rocketmq: resolve name server %q: %w: %v", host, driver.ErrUnreachable, err)
	}
	pick := ips[0].IP
	for _, ip := range ips {
		if ip.IP.To4() != nil {
			pick = ip.IP
			break
		}
	}
	return net.JoinHostPort(pick.String(), port), nil
}

func (d *Driver) preflight(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout())
	defer cancel()
	brokers, err := d.clusterInfo(ctx)
	if err != nil {
		return fmt.Errorf("rocketmq name server %s: %w: %w", strings.Join(d.namesrvs, ","), driver.ErrUnreachable, err)
	}
	if len(brokers) == 0 {
		return fmt.Errorf("rocketmq name server %s lists no broker: %w", strings.Join(d.namesrvs, ","), driver.ErrUnreachable)
	}
	for i := range brokers {
		b := &brokers[i]
		resp, err := d.admin.Invoke(ctx, b.addr, remoting.CodeGetBrokerRuntimeInfo, nil, nil)
		if err != nil {
			return fmt.Errorf("rocketmq broker %s at %s: %w: %w", b.name, b.addr, driver.ErrUnreachable, err)
		}
		// Requests carry the broker's own version from now on; brokers
		// gate some header fields on it.
		d.admin.SetVersion(resp.Version)
		b.version = parseRuntimeVersion(resp.Body)
		resp, err = d.admin.Invoke(ctx, b.addr, remoting.CodeGetBrokerConfig, nil, nil)
		if err != nil {
			return fmt.Errorf("rocketmq broker %s at %s config: %w: %w", b.name, b.addr, driver.ErrUnreachable, err)
		}
		b.config = parseProperties(resp.Body)
	}
	d.setMasters(brokers)
	return nil
}

// setSendTimeout sets the send timeout above the broker's syncFlushTimeout.
// Whether the broker's flushDiskType suits the profile is read back by
// Durability, not decided here.
func (d *Driver) setSendTimeout() {
	d.sendTimeout = d.cfg.Timeout()
	for _, b := range d.masters() {
		if ms, err := strconv.Atoi(b.config["syncFlushTimeout"]); err == nil {
			if min := time.Duration(ms)*time.Millisecond + time.Second; d.sendTimeout < min {
				d.log.Warn("send timeout raised above the broker's syncFlushTimeout",
					"op_timeout", d.cfg.Timeout(), "send_timeout", min)
				d.sendTimeout = min
			}
		}
	}
}

// parseRuntimeVersion extracts brokerVersionDesc ("V5_3_3") from a
// GET_BROKER_RUNTIME_INFO body and returns it as "5.3.3"; "" if absent.
func parseRuntimeVersion(body []byte) string {
	var rt struct {
		Table map[string]string `json:"table"`
	}
	if err := unmarshalLoose(body, &rt); err != nil {
		return ""
	}
	return versionFromDesc(rt.Table["brokerVersionDesc"])
}

// versionFromDesc turns "V5_3_3" into "5.3.3" and "V4_9_8_SNAPSHOT" into
// "4.9.8-SNAPSHOT". Anything else is returned unchanged.
func versionFromDesc(desc string) string {
	if !strings.HasPrefix(desc, "V") {
		return desc
	}
	parts := strings.Split(desc[1:], "_")
	n := 0
	for n < len(parts) {
		if _, err := strconv.Atoi(parts[n]); err != nil {
			break
		}
		n++
	}
	if n == 0 {
		return desc
	}
	v := strings.Join(parts[:n], ".")
	if n < len(parts) {
		v += "-" + strings.Join(parts[n:], "_")
	}
	return v
}

// parseProperties parses the "key=value" lines of a GET_BROKER_CONFIG body.
func parseProperties(body []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// pinnedClientVersion is the client version go.mod requires (a test keeps
// them equal). It is reported when the binary carries no module
// information, as test binaries do.
const pinnedClientVersion = "v2.1.3-0.20251226070945-2173d070fd1b"

// clientVersion returns the version of the client module linked into this
// binary, from its build information, else pinnedClientVersion.
func clientVersion() string { return driver.ClientVersion(ClientModule, pinnedClientVersion) }

// Capabilities are what this adapter declares; see the package comment for
// the mapping and consumer.go for the reasons.
func Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Nack:               true,
		RedeliveryFlag:     false, // set only for messages returning through %RETRY%, not after a consumer crash
		PerKeyOrder:        true,
		CompetingConsumers: true,
		FanOut:             true,
		Replay:             true,
		Persistent:         true,
		MaxLengthReject:    false,
		NativeTransaction:  true,
		Depth:              true,
		MaxBatch:           0,
	}
}

// Info describes the adapter and the broker found by New. No I/O.
func (d *Driver) Info() driver.Info {
	var versions []string
	for _, b := range d.masters() {
		if b.version != "" && !contains(versions, b.version) {
			versions = append(versions, b.version)
		}
	}
	info := Describe()
	info.BrokerVersion = strings.Join(versions, ",")
	return info
}

// Describe returns the adapter's static description (no broker version),
// without contacting the broker.
func Describe() driver.Info {
	return driver.Info{
		Name:          "rocketmq",
		Title:         "RocketMQ",
		Client:        ClientModule,
		ClientVersion: clientVersion(),
		Protocol:      "RocketMQ remoting (TCP)",
		Capabilities:  Capabilities(),
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// instanceName returns a process-unique client instance name. The Go client
// shares one connection set per instance name in a package-global table, and
// refuses two producers (or consumers) of one group on one instance, so every
// producer and consumer gets its own.
func (d *Driver) instanceName(kind string) string {
	d.mu.Lock()
	d.seq++
	n := d.seq
	d.mu.Unlock()
	return fmt.Sprintf("mqbench-%s-%s-%d", d.id, kind, n)
}

// track registers c to be closed by Driver.Close; it fails once closed.
func (d *Driver) track(c interface{ Close() error }) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return driver.ErrClosed
	}
	d.open[c] = struct{}{}
	return nil
}

func (d *Driver) untrack(c interface{ Close() error }) {
	d.mu.Lock()
	delete(d.open, c)
	d.mu.Unlock()
}

// Close closes every producer and consumer still open, then the admin
// connections. It is idempotent.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	open := make([]interface{ Close() error }, 0, len(d.open))
	for c := range d.open {
		open = append(open, c)
	}
	d.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
	return d.admin.Close()
}

// opCtx bounds one network operation by the configured timeout.
func (d *Driver) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.cfg.Timeout())
}

// topicName maps a destination or group name to a legal RocketMQ name.
func topicName(name string) string { return strings.ReplaceAll(name, ".", "_") }

func retryTopic(group string) string { return "%RETRY%" + group }
func dlqTopic(group string) string   { return "%DLQ%" + group }
