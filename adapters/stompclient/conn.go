// Package stompclient is the STOMP 1.2 client the STOMP adapters
// (adapters/activemq, adapters/artemis) share: a connection with pipelined
// receipts, heart-beats and deadlines built on go-stomp's frame codec (Conn),
// the pipelined or transactional send of a batch waiting for the broker's
// receipts (Pipeline), the encoding of message keys in headers
// (EncodeKey, DecodeKey), and the producer and consumer both adapters use
// (Producer, Consumer: reconnection, acknowledgement, and Nack as a
// re-queued copy). It holds the machinery, not a broker's mapping:
// destination names, headers specific to one broker and the choices in
// ProducerConfig and ConsumerConfig stay in each adapter.
package stompclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Conn is one STOMP 1.2 connection built on go-stomp's frame codec.
//
// go-stomp's Conn serialises every SEND that asks for a receipt (it holds a
// mutex across the round trip) and closes the connection on any ERROR frame,
// so it cannot pipeline receipts nor tell which message an ERROR belongs to.
// Conn keeps go-stomp's frame reader and writer and adds what the adapter
// needs: frames are written into a buffer and flushed in bursts, receipts are
// matched asynchronously by receipt-id, an ERROR frame carrying a receipt-id
// fails only the operation that asked for that receipt, every write has a
// deadline, and heart-beats in both directions plus a read deadline detect a
// dead or frozen broker.
//
// All methods are safe for concurrent use. Once the connection fails, every
// pending and later operation returns the terminal error (see Err).
type Conn struct {
	nc      net.Conn
	r       *frame.Reader
	log     *slog.Logger
	opTO    time.Duration // deadline of every write
	readTO  time.Duration // no byte from the broker for this long = dead; 0 = none
	hbEvery time.Duration // send a heart-beat when idle this long; 0 = never
	server  string        // CONNECTED server header

	wmu       sync.Mutex // guards bw, fw, lastWrite
	bw        *bufio.Writer
	fw        *frame.Writer
	lastWrite time.Time

	mu       sync.Mutex
	pending  map[string]chan error // receipt id -> outcome (buffered, 1)
	subs     map[string]*SubQueue  // subscription id -> deliveries
	nextID   uint64
	freeTx   []string // committed transaction ids, for TxID to reuse
	failErr  error
	done     chan struct{} // closed when the connection failed or was closed
	stopOnce sync.Once
}

// ErrConnClosed is the terminal error of a connection closed by its owner.
var ErrConnClosed = fmt.Errorf("stomp connection %w", driver.ErrClosed)

// ErrNoReceipt means the broker did not answer a receipt in time.
var ErrNoReceipt = errors.New("no receipt from broker")

// BrokerError is an ERROR frame sent by the broker.
type BrokerError struct {
	Message string // the message header
	Body    string // the frame body, trimmed
}

func (e *BrokerError) Error() string {
	if e.Body != "" && e.Body != e.Message {
		return fmt.Sprintf("broker ERROR: %s: %s", e.Message, e.Body)
	}
	return "broker ERROR: " + e.Message
}

func newBrokerError(f *frame.Frame) *BrokerError {
	body := string(f.Body)
	if len(body) > 512 {
		body = body[:512] + "..."
	}
	if i := indexNewline(body); i >= 0 {
		body = body[:i] // the first line of a Java stack trace is enough
	}
	return &BrokerError{Message: f.Header.Get(frame.Message), Body: body}
}

func indexNewline(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			return i
		}
	}
	return -1
}

// HeartBeats returns the heart-beat interval the adapter asks for in both
// directions: a quarter of the operation timeout, between 250ms and 2s, so
// that a silent broker is detected well within one operation timeout.
func HeartBeats(opTO time.Duration) time.Duration {
	return min(max(opTO/4, 250*time.Millisecond), 2*time.Second)
}

// Dial connects to addr and performs the STOMP 1.2 CONNECT handshake,
// bounded by ctx and opTO. It fails when no CONNECTED frame arrives in time;
// the caller decides whether that means driver.ErrUnreachable.
func Dial(ctx context.Context, addr string, opTO time.Duration, log *slog.Logger) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, opTO)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	// Close the socket if ctx ends first, so the handshake cannot outlive it.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	hb := HeartBeats(opTO)
	bw := bufio.NewWriterSize(nc, 64<<10)
	fw := frame.NewWriter(bufferOnly{bw})
	r := frame.NewReaderSize(nc, 64<<10)
	resp, err := handshake(ctx, fw, bw, r, addr, hb)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := &Conn{
		nc:        nc,
		r:         r,
		log:       log,
		opTO:      opTO,
		server:    resp.Header.Get(frame.Server),
		bw:        bw,
		fw:        fw,
		lastWrite: time.Now(),
		pending:   make(map[string]chan error),
		subs:      make(map[string]*SubQueue),
		done:      make(chan struct{}),
	}
	if err := c.agreeHeartBeats(resp, hb); err != nil {
		nc.Close()
		return nil, fmt.Errorf("stomp CONNECT to %s: %w", addr, err)
	}
	if !stop() {
		nc.Close()
		return nil, fmt.Errorf("stomp CONNECT to %s: %w", addr, ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	go c.readLoop()
	if c.hbEvery > 0 {
		go c.heartBeatLoop()
	}
	return c, nil
}

// bufferOnly hides the connection's *bufio.Writer from go-stomp's
// frame.Writer, which wraps its io.Writer in bufio.NewWriterSize and
// flushes that after every frame. Handed the *bufio.Writer itself,
// bufio.NewWriterSize returns it unchanged, so every frame would be a write
// syscall; behind bufferOnly the per-frame flush only moves the frame into
// the connection's buffer, and Conn.Flush decides when bytes leave.
type bufferOnly struct{ w *bufio.Writer }

// Write implements io.Writer.
func (b bufferOnly) Write(p []byte) (int, error) { return b.w.Write(p) }

// handshake sends the STOMP 1.2 CONNECT frame, offering heart-beats every
// hb both ways, and returns the broker's CONNECTED frame; an ERROR frame,
// another frame or another STOMP version is an error naming addr.
func handshake(ctx context.Context, fw *frame.Writer, bw *bufio.Writer, r *frame.Reader, addr string, hb time.Duration) (*frame.Frame, error) {
	ms := strconv.FormatInt(hb.Milliseconds(), 10)
	host, _, _ := net.SplitHostPort(addr)
	if host == "" {
		host = "localhost"
	}
	connect := frame.New(frame.CONNECT,
		frame.AcceptVersion, "1.2",
		frame.Host, host,
		frame.HeartBeat, ms+","+ms)
	if err := fw.Write(connect); err != nil {
		return nil, fmt.Errorf("stomp CONNECT to %s: %w", addr, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("stomp CONNECT to %s: %w", addr, err)
	}
	var resp *frame.Frame
	for resp == nil { // skip heart-beats
		var err error
		if resp, err = r.Read(); err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			return nil, fmt.Errorf("stomp CONNECT to %s: no CONNECTED frame: %w", addr, err)
		}
	}
	switch resp.Command {
	case frame.CONNECTED:
	case frame.ERROR:
		return nil, fmt.Errorf("stomp CONNECT to %s: %w", addr, newBrokerError(resp))
	default:
		return nil, fmt.Errorf("stomp CONNECT to %s: unexpected %s frame", addr, resp.Command)
	}
	if v := resp.Header.Get(frame.Version); v != "1.2" {
		return nil, fmt.Errorf("stomp CONNECT to %s: broker speaks STOMP %q, need 1.2", addr, v)
	}
	return resp, nil
}

// agreeHeartBeats sets the heart-beat intervals from the CONNECTED frame
// resp, having offered hb both ways. The broker's sx,sy: we send every
// max(ours, sy) and expect the broker every max(ours, sx) (STOMP 1.2
// section "Heart-beating").
func (c *Conn) agreeHeartBeats(resp *frame.Frame, hb time.Duration) error {
	v, ok := resp.Header.Contains(frame.HeartBeat)
	if !ok {
		return nil
	}
	sx, sy, err := frame.ParseHeartBeat(v)
	if err != nil {
		return fmt.Errorf("bad heart-beat %q: %w", v, err)
	}
	if sy > 0 {
		c.hbEvery = max(hb, sy)
	}
	if sx > 0 {
		// A broker may wait up to twice its interval between two
		// heart-beats (ActiveMQ checks once per interval); allow that
		// plus scheduling slack.
		c.readTO = 3*max(hb, sx) + time.Second
	}
	return nil
}

// Server is the CONNECTED frame's server header, e.g. "ActiveMQ/6.3.1" or
// "ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine".
func (c *Conn) Server() string { return c.server }

// Done is closed once the connection has failed or was closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns the terminal error, or nil while the connection is usable.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failErr
}

// NewID returns a connection-unique id for receipts and subscriptions.
func (c *Conn) NewID(prefix string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	return prefix + strconv.FormatUint(c.nextID, 10)
}

// TxID returns a transaction id for a BEGIN: one that ReleaseTx gave back,
// else a new one. Reusing ids matters to Artemis, which opens a server
// session for each transaction id a connection uses and keeps it until the
// connection closes.
func (c *Conn) TxID() string {
	c.mu.Lock()
	n := len(c.freeTx)
	if n == 0 {
		c.mu.Unlock()
		return c.NewID("t")
	}
	id := c.freeTx[n-1]
	c.freeTx = c.freeTx[:n-1]
	c.mu.Unlock()
	return id
}

// ReleaseTx gives back the id of a transaction whose COMMIT the broker
// confirmed, so that TxID can reuse it. Ids of failed transactions must not
// be released.
func (c *Conn) ReleaseTx(id string) {
	c.mu.Lock()
	c.freeTx = append(c.freeTx, id)
	c.mu.Unlock()
}

// Expect registers a receipt id before the frame asking for it is written.
// The returned channel receives exactly one outcome: nil for a RECEIPT, a
// *BrokerError for an ERROR naming the receipt, or the connection's terminal
// error.
func (c *Conn) Expect(id string) chan error {
	ch := make(chan error, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failErr != nil {
		ch <- c.failErr
		return ch
	}
	c.pending[id] = ch
	return ch
}

// Forget drops a receipt the caller no longer waits for.
func (c *Conn) Forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// Write appends f to the output buffer without flushing (bufio flushes by
// itself when the buffer fills). Call Flush to push buffered frames out.
func (c *Conn) Write(f *frame.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.Err(); err != nil {
		return err
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.opTO))
	if err := c.fw.Write(f); err != nil {
		err = fmt.Errorf("stomp write %s: %w", f.Command, err)
		c.fail(err)
		return err
	}
	c.lastWrite = time.Now()
	return nil
}

// Flush pushes buffered frames to the broker within the operation timeout.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.Err(); err != nil {
		return err
	}
	if c.bw.Buffered() == 0 {
		return nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.opTO))
	if err := c.bw.Flush(); err != nil {
		err = fmt.Errorf("stomp flush: %w", err)
		c.fail(err)
		return err
	}
	c.lastWrite = time.Now()
	return nil
}

// Send writes and flushes f.
func (c *Conn) Send(f *frame.Frame) error {
	if err := c.Write(f); err != nil {
		return err
	}
	return c.Flush()
}

// RoundTrip sends f with a fresh receipt header and waits for the receipt,
// ctx, or the operation timeout.
func (c *Conn) RoundTrip(ctx context.Context, f *frame.Frame) error {
	id := c.NewID("r")
	f.Header.Set(frame.Receipt, id)
	ch := c.Expect(id)
	if err := c.Send(f); err != nil {
		c.Forget(id)
		return err
	}
	return c.Wait(ctx, id, ch)
}

// Wait waits for the outcome of receipt id, bounded by ctx and opTO.
func (c *Conn) Wait(ctx context.Context, id string, ch chan error) error {
	t := time.NewTimer(c.opTO)
	defer t.Stop()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		c.Forget(id)
		return ctx.Err()
	case <-t.C:
		c.Forget(id)
		return fmt.Errorf("%w within %v", ErrNoReceipt, c.opTO)
	}
}

// fail records err as the terminal error (the first one wins), closes the
// socket and fails every pending receipt and subscription.
func (c *Conn) fail(err error) {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.failErr = err
		pending, subs := c.pending, c.subs
		c.pending, c.subs = map[string]chan error{}, map[string]*SubQueue{}
		c.mu.Unlock()
		_ = c.nc.Close()
		for _, ch := range pending {
			ch <- err
		}
		for _, q := range subs {
			q.fail(err)
		}
		close(c.done)
	})
}

// Close disconnects politely (DISCONNECT with a receipt, bounded by a short
// deadline) and closes the socket. It is idempotent.
func (c *Conn) Close() error {
	if c.Err() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), min(c.opTO, time.Second))
		_ = c.RoundTrip(ctx, frame.New(frame.DISCONNECT))
		cancel()
	}
	c.fail(ErrConnClosed)
	return nil
}

// Subscribe registers a delivery queue for subscription id. Register before
// writing the SUBSCRIBE frame so no MESSAGE is missed.
func (c *Conn) Subscribe(id string) *SubQueue {
	q := newSubQueue()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failErr != nil {
		q.fail(c.failErr)
		return q
	}
	c.subs[id] = q
	return q
}

// UnsubscribeLocal stops routing MESSAGE frames for id.
func (c *Conn) UnsubscribeLocal(id string) {
	c.mu.Lock()
	delete(c.subs, id)
	c.mu.Unlock()
}

func (c *Conn) readLoop() {
	for {
		if c.readTO > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.readTO))
		}
		f, err := c.r.Read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("broker silent for %v (no frame or heart-beat): %w", c.readTO, err)
			}
			c.fail(fmt.Errorf("stomp read: %w", err))
			return
		}
		if f == nil {
			continue // heart-beat
		}
		switch f.Command {
		case frame.RECEIPT:
			c.resolve(f.Header.Get(frame.ReceiptId), nil)
		case frame.ERROR:
			berr := newBrokerError(f)
			if id, ok := f.Header.Contains(frame.ReceiptId); ok && c.resolve(id, berr) {
				c.log.Debug("stomp: ERROR for receipt", "receipt", id, "err", berr)
				continue
			}
			// An ERROR not tied to a pending receipt: the broker is closing
			// the connection or something unknown failed. Fail everything.
			c.fail(berr)
			return
		case frame.MESSAGE:
			id := f.Header.Get(frame.Subscription)
			c.mu.Lock()
			q := c.subs[id]
			c.mu.Unlock()
			if q != nil {
				q.push(f)
			} else {
				c.log.Debug("stomp: MESSAGE for unknown subscription", "subscription", id)
			}
		default:
			c.log.Debug("stomp: unexpected frame", "command", f.Command)
		}
	}
}

// resolve delivers the outcome of receipt id; false if nobody waits for it.
func (c *Conn) resolve(id string, err error) bool {
	c.mu.Lock()
	ch, ok := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ok {
		ch <- err
	}
	return ok
}

func (c *Conn) heartBeatLoop() {
	// Beat at a quarter of the promised interval: the broker's inactivity
	// check then has ample margin even when this process is starved of CPU.
	t := time.NewTicker(c.hbEvery / 4)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		c.wmu.Lock()
		if time.Since(c.lastWrite) >= c.hbEvery/4 && c.bw.Buffered() == 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.opTO))
			if _, err := c.bw.Write([]byte{'\n'}); err == nil {
				err = c.bw.Flush()
				if err != nil {
					c.wmu.Unlock()
					c.fail(fmt.Errorf("stomp heart-beat: %w", err))
					return
				}
			}
			c.lastWrite = time.Now()
		}
		c.wmu.Unlock()
	}
}

// SubQueue buffers the MESSAGE frames of one subscription. It is unbounded so
// the read loop never blocks on a slow consumer (which would stall receipts
// and heart-beats); the broker's prefetch limit bounds it in practice.
type SubQueue struct {
	mu     sync.Mutex
	frames []*frame.Frame
	err    error
	signal chan struct{} // capacity 1: "something changed"
}

// Signal is ready (capacity 1) whenever the queue changed: a frame arrived
// or it failed. Wait on it, then Take.
func (q *SubQueue) Signal() <-chan struct{} { return q.signal }

func newSubQueue() *SubQueue { return &SubQueue{signal: make(chan struct{}, 1)} }

func (q *SubQueue) push(f *frame.Frame) {
	q.mu.Lock()
	q.frames = append(q.frames, f)
	q.mu.Unlock()
	q.notify()
}

func (q *SubQueue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	q.notify()
}

func (q *SubQueue) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// Take removes up to max frames; when none are queued it returns the
// queue's terminal error (nil while it is alive).
func (q *SubQueue) Take(max int) ([]*frame.Frame, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) == 0 {
		return nil, q.err
	}
	n := min(max, len(q.frames))
	out := make([]*frame.Frame, n)
	copy(out, q.frames)
	rest := copy(q.frames, q.frames[n:])
	clear(q.frames[rest:])
	q.frames = q.frames[:rest]
	return out, nil
}
