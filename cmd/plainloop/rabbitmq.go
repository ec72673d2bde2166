package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The settings of mqbench's RabbitMQ adapter (durable profile): a durable
// fanout exchange with one durable classic queue bound to it, persistent
// messages published mandatory on a channel in confirm mode, every publish
// of a round pipelined before waiting for their confirms; consumers with
// basic.qos prefetch and a manual ack per message.

// rabbit is one RabbitMQ destination.
type rabbit struct {
	c        config
	url      string
	exchange string
	queue    string
}

// bounded runs f, returning its error, or an error once ctx ends or
// timeout passes (f keeps running in the background: the amqp091-go RPCs
// take no context, but their connection dies with its heartbeat).
func bounded(ctx context.Context, timeout time.Duration, what string, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

func (r *rabbit) dial(ctx context.Context) (*amqp.Connection, *amqp.Channel, error) {
	var conn *amqp.Connection
	err := bounded(ctx, r.c.OpTimeout, "dial", func() error {
		var err error
		conn, err = amqp.DialConfig(r.url, amqp.Config{Dial: amqp.DefaultDial(r.c.OpTimeout), Heartbeat: r.c.OpTimeout / 2})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	var ch *amqp.Channel
	if err := bounded(ctx, r.c.OpTimeout, "channel", func() (err error) { ch, err = conn.Channel(); return err }); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, ch, nil
}

func openRabbit(ctx context.Context, c config, name string) (session, error) {
	r := &rabbit{c: c, url: "amqp://guest:guest@" + c.Addr + "/", exchange: name, queue: name + ":g0"}
	conn, ch, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	err = bounded(ctx, c.OpTimeout, "declare", func() error {
		if err := ch.ExchangeDeclare(r.exchange, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
			return err
		}
		if _, err := ch.QueueDeclare(r.queue, true, false, false, false, nil); err != nil {
			return err
		}
		return ch.QueueBind(r.queue, "", r.exchange, false, nil)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rabbit) cleanup(ctx context.Context) error {
	conn, ch, err := r.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return bounded(ctx, r.c.OpTimeout, "delete", func() error {
		if _, err := ch.QueueDelete(r.queue, false, false, false); err != nil {
			return err
		}
		return ch.ExchangeDelete(r.exchange, false, false)
	})
}

type rabbitSender struct {
	r    *rabbit
	conn *amqp.Connection
	ch   *amqp.Channel
	dcs  []*amqp.DeferredConfirmation
}

func (r *rabbit) newProducer(ctx context.Context) (sender, error) {
	conn, ch, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	if err := bounded(ctx, r.c.OpTimeout, "confirm.select", func() error { return ch.Confirm(false) }); err != nil {
		conn.Close()
		return nil, err
	}
	return &rabbitSender{r: r, conn: conn, ch: ch}, nil
}

// send publishes every body (persistent, mandatory), then waits for all
// their confirms.
func (s *rabbitSender) send(ctx context.Context, bodies [][]byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.r.c.OpTimeout)
	defer cancel()
	s.dcs = s.dcs[:0]
	for _, b := range bodies {
		dc, err := s.ch.PublishWithDeferredConfirmWithContext(ctx, s.r.exchange, "", true, false,
			amqp.Publishing{DeliveryMode: amqp.Persistent, Body: b})
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		s.dcs = append(s.dcs, dc)
	}
	for _, dc := range s.dcs {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("confirm: %w", err)
		}
		if !ok {
			return errors.New("confirm: nacked by the broker")
		}
	}
	return nil
}

func (s *rabbitSender) close() { s.conn.Close() }

type rabbitConsumer struct {
	conn *amqp.Connection
	done chan struct{}
}

func (r *rabbit) newConsumer(ctx context.Context, onMsg func([]byte)) (closer, error) {
	conn, ch, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	var ds <-chan amqp.Delivery
	err = bounded(ctx, r.c.OpTimeout, "consume", func() error {
		if err := ch.Qos(r.c.Prefetch, 0, false); err != nil {
			return err
		}
		var err error
		ds, err = ch.ConsumeWithContext(ctx, r.queue, "", false, false, false, false, nil)
		return err
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	rc := &rabbitConsumer{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(rc.done)
		for d := range ds { // ends when the connection closes
			if onMsg == nil {
				continue // idle: never acknowledged, the broker stops at the prefetch
			}
			onMsg(d.Body)
			_ = d.Ack(false) // a write with the connection's heartbeat as its bound
		}
	}()
	return rc, nil
}

func (rc *rabbitConsumer) close() {
	rc.conn.Close()
	<-rc.done
}
