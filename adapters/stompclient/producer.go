package stompclient

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

// ProducerConfig is what differs between the STOMP brokers' producers.
type ProducerConfig struct {
	// Broker names the adapter in errors ("activemq").
	Broker string
	// Destination is every SEND's destination header.
	Destination string
	// Headers are further SEND headers, name then value (Artemis: its
	// destination type).
	Headers []string
	// Dial opens a new connection (the first, and after one died).
	Dial func(ctx context.Context) (*Conn, error)
	// Profile decides what a Send waits for: Durable sends persistent
	// messages, a batch in transactions of up to Window/2 committed with a
	// receipt (Pipeline); Fast sends non-persistent ones, each with a
	// receipt; Unsafe writes and flushes without receipts.
	Profile driver.Profile
	// Window bounds the receipts outstanding on the connection.
	Window int
	// OnSend, when set, sees every Send's outcome (ActiveMQ's bookkeeping
	// of refusals).
	OnSend func(err error)
	// OnClose runs once, when Close is first called.
	OnClose func()
}

// Producer sends to one destination over one connection, dialled again on
// a later Send when it dies. It implements driver.Producer: Send is called
// by one goroutine at a time; Close may be called concurrently.
type Producer struct {
	cfg ProducerConfig

	mu     sync.Mutex // guards c and closed
	c      *Conn
	closed bool
}

// NewProducer connects (bounded by ctx) and returns the producer.
func NewProducer(ctx context.Context, cfg ProducerConfig) (*Producer, error) {
	if len(cfg.Headers)%2 != 0 {
		return nil, fmt.Errorf("%s: producer headers must come in name, value pairs", cfg.Broker)
	}
	if cfg.Window <= 0 {
		cfg.Window = 1
	}
	c, err := cfg.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return &Producer{cfg: cfg, c: c}, nil
}

// conn returns the live connection, dialling a new one if the last died.
func (p *Producer) conn(ctx context.Context) (*Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("%s: producer %w", p.cfg.Broker, driver.ErrClosed)
	}
	c := p.c
	p.mu.Unlock()
	if c != nil && c.Err() == nil {
		return c, nil
	}
	nc, err := p.cfg.Dial(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = nc.Close()
		return nil, fmt.Errorf("%s: producer %w", p.cfg.Broker, driver.ErrClosed)
	}
	p.c = nc
	return nc, nil
}

// sendFrame builds the SEND frame of m; tx, when not empty, puts it in
// that transaction.
func (p *Producer) sendFrame(m driver.Message, persistent bool, tx string) *frame.Frame {
	f := frame.New(frame.SEND, frame.Destination, p.cfg.Destination)
	for i := 0; i < len(p.cfg.Headers); i += 2 {
		f.Header.Add(p.cfg.Headers[i], p.cfg.Headers[i+1])
	}
	f.Header.Add(frame.ContentLength, strconv.Itoa(len(m.Body)))
	f.Header.Add(HdrPersistent, strconv.FormatBool(persistent))
	if tx != "" {
		f.Header.Add(frame.Transaction, tx)
	}
	addKey(f, m.Key)
	// The frame is fully written before Send returns, so it may share the
	// caller's buffer.
	f.Body = m.Body
	return f
}

// builder returns the SendFrame of this producer.
func (p *Producer) builder(persistent bool) SendFrame {
	return func(m driver.Message, tx string) *frame.Frame { return p.sendFrame(m, persistent, tx) }
}

// Send sends msgs and waits for what the profile promises (see
// ProducerConfig.Profile). It returns nil when all were confirmed, a
// *driver.SendError naming the unconfirmed ones, or another error when
// none was sent.
func (p *Producer) Send(ctx context.Context, msgs []driver.Message) error {
	err := p.send(ctx, msgs)
	if p.cfg.OnSend != nil {
		p.cfg.OnSend(err)
	}
	return err
}

// send is Send without OnSend.
func (p *Producer) send(ctx context.Context, msgs []driver.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := p.conn(ctx)
	if err != nil {
		return err
	}
	switch {
	case p.cfg.Profile == driver.Unsafe:
		for _, m := range msgs {
			if err := c.Write(p.sendFrame(m, false, "")); err != nil {
				return fmt.Errorf("%s: send: %w", p.cfg.Broker, err)
			}
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("%s: send: %w", p.cfg.Broker, err)
		}
		return nil
	case p.cfg.Profile == driver.Durable && len(msgs) > 1:
		return Pipeline(ctx, c, msgs, max(p.cfg.Window/2, 1), p.cfg.Window, p.builder(true), p.cfg.Broker)
	default:
		return Pipeline(ctx, c, msgs, 1, p.cfg.Window, p.builder(p.cfg.Profile == driver.Durable), p.cfg.Broker)
	}
}

// Close closes the producer's connection; a pending Send fails. It is
// idempotent.
func (p *Producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	c := p.c
	p.mu.Unlock()
	if p.cfg.OnClose != nil {
		p.cfg.OnClose()
	}
	if c != nil {
		return c.Close()
	}
	return nil
}
