package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// brokerURL turns Config.Addr into an AMQP URL: empty means DefaultAddr, a
// host:port gets the guest/guest credentials and the default vhost, and an
// amqp:// or amqps:// URL is used as given.
func brokerURL(addr string) (string, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	if strings.Contains(addr, "://") {
		if _, err := amqp.ParseURI(addr); err != nil {
			return "", fmt.Errorf("rabbitmq: bad broker URL %q: %w", redact(addr), err)
		}
		return addr, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("rabbitmq: bad broker address %q (want host:port or amqp://user:pass@host:port/vhost): %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return "amqp://guest:guest@" + net.JoinHostPort(host, port) + "/", nil
}

// brokerURLs turns Config.Addr, one address or a comma-separated list of a
// cluster's nodes (each host:port or an AMQP URL), into AMQP URLs.
func brokerURLs(addr string) ([]string, error) {
	if addr == "" {
		u, err := brokerURL("")
		return []string{u}, err
	}
	var urls []string
	for _, a := range strings.Split(addr, ",") {
		if strings.TrimSpace(a) == "" {
			return nil, fmt.Errorf("rabbitmq: empty address in list %q", redact(addr))
		}
		u, err := brokerURL(strings.TrimSpace(a))
		if err != nil {
			return nil, err
		}
		urls = append(urls, u)
	}
	return urls, nil
}

// endpoints are the nodes a driver may connect to. A connection goes to the
// node that answered last; when it fails, the next ones are tried in turn,
// so a producer or consumer whose node died reconnects to another.
type endpoints struct {
	urls []string
	mu   sync.Mutex
	cur  int // index of the node that answered last
}

func newEndpoints(urls []string) *endpoints { return &endpoints{urls: urls} }

// dial connects to the first node that answers, starting with the one that
// answered last; each attempt is bounded by ctx and timeout. The error
// joins every node's.
func (e *endpoints) dial(ctx context.Context, timeout time.Duration, name string) (*amqp.Connection, net.Conn, error) {
	e.mu.Lock()
	start := e.cur
	e.mu.Unlock()
	var errs []error
	for i := range e.urls {
		k := (start + i) % len(e.urls)
		conn, raw, err := dial(ctx, e.urls[k], timeout, name)
		if err == nil {
			e.mu.Lock()
			e.cur = k
			e.mu.Unlock()
			return conn, raw, nil
		}
		errs = append(errs, err)
		if isAuthError(err) || ctx.Err() != nil {
			break
		}
	}
	return nil, nil, errors.Join(errs...)
}

// cluster reports whether more than one node is listed.
func (e *endpoints) cluster() bool { return len(e.urls) > 1 }

// redact hides the password of an AMQP URL for messages and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// heartbeatFor picks the AMQP heartbeat interval for an operation timeout.
// amqp091-go drops a connection that has read nothing for three intervals, so
// a frozen broker is detected within about 1.5 × timeout even on an idle
// consumer.
func heartbeatFor(timeout time.Duration) time.Duration {
	hb := timeout / 2
	if hb < time.Second {
		hb = time.Second
	}
	if hb > 30*time.Second {
		hb = 30 * time.Second
	}
	return hb
}

// deadlineConn bounds every write with a fresh deadline. amqp091-go clears the
// socket deadlines after the handshake and relies on TCP pushback, so a broker
// that stops reading (connection.blocked, SIGSTOP) would otherwise block a
// publish, an ack or a close forever. A write that times out makes amqp091-go
// shut the connection down, which every waiter then sees as an error.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

// Write sets the write deadline, then writes.
func (c *deadlineConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// dial opens one AMQP connection, bounded by ctx and timeout. It returns the
// connection and the raw socket under it (closing the socket is the last
// resort that unblocks everything).
func dial(ctx context.Context, rawURL string, timeout time.Duration, name string) (*amqp.Connection, net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		raw  net.Conn
		stop func() bool
	)
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(name)
	cfg := amqp.Config{
		Heartbeat:  heartbeatFor(timeout),
		Locale:     "en_US",
		Properties: props,
		// DialConfig calls Dial synchronously, so raw and stop are set
		// before it returns.
		Dial: func(network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if dl, ok := ctx.Deadline(); ok {
				if err := c.SetDeadline(dl); err != nil {
					c.Close()
					return nil, err
				}
			}
			// Cancelling ctx aborts the handshake.
			stop = context.AfterFunc(ctx, func() { c.Close() })
			raw = &deadlineConn{Conn: c, timeout: timeout}
			return raw, nil
		},
	}
	conn, err := amqp.DialConfig(rawURL, cfg)
	if stop != nil && !stop() {
		// ctx ended during the handshake and closed the socket.
		if err == nil {
			conn.Close()
		}
		return nil, nil, fmt.Errorf("rabbitmq: connect %s: %w", redact(rawURL), errors.Join(ctx.Err(), err))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("rabbitmq: connect %s: %w", redact(rawURL), err)
	}
	return conn, raw, nil
}

// isAuthError reports whether err is the broker refusing the login (it
// answered the handshake, so it is not unreachable).
func isAuthError(err error) bool {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae.Code == amqp.AccessRefused || ae.Code == amqp.NotAllowed
	}
	return false
}

// errTimeout is the cause of an operation that got no answer in time.
var errTimeout = os.ErrDeadlineExceeded

// bounded runs op on its own goroutine and waits for it until it returns, ctx
// is done or timeout passes, whichever comes first. amqp091-go's RPCs take no
// context; an abandoned op finishes when its connection dies (heartbeats and
// write deadlines guarantee it does).
func bounded(ctx context.Context, timeout time.Duration, what string, op func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rabbitmq: %s: %w", what, err)
	}
	done := make(chan error, 1)
	go func() { done <- op() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("rabbitmq: %s: %w", what, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rabbitmq: %s: %w", what, ctx.Err())
	case <-t.C:
		return fmt.Errorf("rabbitmq: %s: no answer within %v: %w", what, timeout, errTimeout)
	}
}

// link is one connection with one channel: what a producer or a consumer
// uses. It watches both and records why it died.
type link struct {
	conn    *amqp.Connection
	raw     net.Conn
	ch      *amqp.Channel
	timeout time.Duration
	log     *slog.Logger

	done     chan struct{} // closed once the channel or the connection is gone
	failOnce sync.Once
	mu       sync.Mutex
	err      error     // why it died
	blocked  string    // connection.blocked reason while blocked, else ""
	name     string    // connection name, for the block log
	blocks   *blockLog // the driver's; nil records nothing
}

// openLink dials a connection and opens a channel on it. setup runs on the
// new channel (bounded) before the watchers start; on any error the
// connection is closed.
func openLink(ctx context.Context, eps *endpoints, timeout time.Duration, name string, log *slog.Logger, blocks *blockLog, setup func(*amqp.Channel) error) (*link, error) {
	conn, raw, err := eps.dial(ctx, timeout, name)
	if err != nil {
		return nil, err
	}
	l := &link{conn: conn, raw: raw, timeout: timeout, log: log, done: make(chan struct{}), name: name + " " + raw.LocalAddr().String(), blocks: blocks}
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	go l.watchBlocked(blocked)
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	var chClosed chan *amqp.Error
	err = bounded(ctx, timeout, "open channel", func() error {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		// Registered before setup, so an exception during or right
		// after setup is reported with its reason.
		chClosed = ch.NotifyClose(make(chan *amqp.Error, 1))
		l.ch = ch
		return nil
	})
	if err == nil && setup != nil {
		err = setup(l.ch)
	}
	if err != nil {
		l.fail(err)
		l.shutdown()
		return nil, err
	}
	go l.watchClose(connClosed, chClosed)
	return l, nil
}

// watchBlocked records connection.blocked / unblocked until the connection
// closes the notification channel.
func (l *link) watchBlocked(c <-chan amqp.Blocking) {
	defer func() { l.blocks.closed(l.name, time.Now()) }()
	for b := range c {
		l.blocks.record(l.name, b, time.Now())
		l.mu.Lock()
		if b.Active {
			l.blocked = b.Reason
			if l.blocked == "" {
				l.blocked = "no reason given"
			}
		} else {
			l.blocked = ""
		}
		l.mu.Unlock()
		if b.Active {
			l.log.Warn("rabbitmq: connection.blocked by broker; publishes stall", "reason", b.Reason)
		} else {
			l.log.Info("rabbitmq: connection.unblocked")
		}
	}
}

// watchClose marks the link dead when its channel or connection closes, and
// releases the connection when only the channel died.
func (l *link) watchClose(connClosed, chClosed <-chan *amqp.Error) {
	var err error
	select {
	case e := <-connClosed:
		err = closeReason("connection", e)
	case e := <-chClosed:
		err = closeReason("channel", e)
	}
	l.fail(err)
	l.shutdown()
}

// closeReason describes a close notification; e is nil for a close we asked
// for.
func closeReason(what string, e *amqp.Error) error {
	if e == nil {
		return fmt.Errorf("rabbitmq: %s closed: %w", what, errClosedByUs)
	}
	return fmt.Errorf("rabbitmq: %s lost: %w", what, e)
}

// errClosedByUs marks a connection closed by this adapter.
var errClosedByUs = errors.New("closed by client")

// fail records the first cause of death and closes done.
func (l *link) fail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.failOnce.Do(func() { close(l.done) })
}

// alive reports whether the link is still usable.
func (l *link) alive() bool {
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

// cause returns why the link died (nil while alive).
func (l *link) cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// blockedReason returns the connection.blocked reason, or "".
func (l *link) blockedReason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.blocked
}

// shutdown closes the connection: politely within the timeout, then by
// closing the socket. It returns within about one timeout and is safe to call
// more than once and concurrently.
func (l *link) shutdown() error {
	l.fail(fmt.Errorf("rabbitmq: connection closed: %w", errClosedByUs))
	done := make(chan error, 1)
	go func() { done <- l.conn.CloseDeadline(time.Now().Add(l.timeout)) }()
	t := time.NewTimer(l.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		l.raw.Close()
		if err != nil && !errors.Is(err, amqp.ErrClosed) {
			return err
		}
		return nil
	case <-t.C:
		return l.raw.Close()
	}
}

// kill closes the socket at once: whatever is blocked on it fails now.
func (l *link) kill(err error) {
	l.fail(err)
	l.raw.Close()
}

// redialPause is the least time between two failed reconnection attempts of
// one producer or consumer, so a caller that retries at once during an
// outage does not spin.
const redialPause = 250 * time.Millisecond

// clusterRedialPause is how long a producer or consumer of a cluster waits
// before reconnecting after its connection was lost, so that a quorum
// queue whose leader died has elected a new one before the new channel
// looks it up: a channel opened during the election (about 0.2 s after a
// kill -9 on the reference machine) was seen to stay with the dead leader
// (RabbitMQ 3.10.8: every publish nacked, nothing delivered) until that
// node came back. The pause counts in the unavailability a failover run
// measures.
const clusterRedialPause = time.Second

// lostAt returns the time from which pauseAfterFailure counts after a lost
// connection: on a cluster, clusterRedialPause − redialPause from now, so
// that the wait is clusterRedialPause; on one node lastFail unchanged
// (reconnect at once).
func (d *Driver) lostAt(lastFail time.Time) time.Time {
	if !d.url.cluster() {
		return lastFail
	}
	return time.Now().Add(clusterRedialPause - redialPause)
}

// pauseAfterFailure waits until redialPause has passed since lastFail (zero
// means no failure), or until ctx is done or closed is closed.
func pauseAfterFailure(ctx context.Context, lastFail time.Time, closed <-chan struct{}) error {
	if lastFail.IsZero() {
		return nil
	}
	wait := redialPause - time.Since(lastFail)
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return errClosedByUs
	}
}
