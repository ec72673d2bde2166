package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
)

// The settings of mqbench's ActiveMQ adapter (durable profile): producers
// send persistent:true to the virtual topic /topic/VirtualTopic.<name>, a
// round in one STOMP transaction whose COMMIT carries a receipt (one
// journal sync per round); the group queue
// /queue/Consumer.g0.VirtualTopic.<name> exists before the first send;
// consumers subscribe to it with ack:client-individual and
// activemq.prefetchSize, and ACK every message. With --key-headers every
// SEND also carries the key headers the adapter adds to a keyed message.

// active is one ActiveMQ destination.
type active struct {
	c         config
	topic     string
	queue     string
	producers atomic.Uint32 // producers opened, numbering their keys
}

func (a *active) dial(ctx context.Context) (*stomp.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, a.c.OpTimeout)
	defer cancel()
	hb := min(max(a.c.OpTimeout/4, 250*time.Millisecond), 2*time.Second)
	host, _, _ := net.SplitHostPort(a.c.Addr)
	conn, err := stomp.DialWithContext(ctx, "tcp", a.c.Addr,
		stomp.ConnOpt.Host(host),
		stomp.ConnOpt.AcceptVersion(stomp.V12),
		stomp.ConnOpt.HeartBeat(hb, hb),
		stomp.ConnOpt.MsgSendTimeout(a.c.OpTimeout),
		stomp.ConnOpt.RcvReceiptTimeout(a.c.OpTimeout),
		stomp.ConnOpt.DisconnectReceiptTimeout(a.c.OpTimeout),
		stomp.ConnOpt.UnsubscribeReceiptTimeout(a.c.OpTimeout))
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return conn, nil
}

func openActive(ctx context.Context, c config, name string) (session, error) {
	a := &active{c: c, topic: "/topic/VirtualTopic." + name, queue: "/queue/Consumer.g0.VirtualTopic." + name}
	conn, err := a.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Disconnect()
	// Create the group queue: subscribe with a selector no message
	// matches, then unsubscribe; the UNSUBSCRIBE receipt comes after the
	// broker handled the SUBSCRIBE (it handles a connection's frames in
	// order).
	sub, err := conn.Subscribe(a.queue, stomp.AckClientIndividual,
		stomp.SubscribeOpt.Header("selector", "plainloop = 'never-matches'"),
		stomp.SubscribeOpt.Header("activemq.prefetchSize", "1"))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", a.queue, err)
	}
	if err := sub.Unsubscribe(); err != nil {
		return nil, fmt.Errorf("create %s: unsubscribe: %w", a.queue, err)
	}
	return a, nil
}

// cleanup drains the group queue (STOMP cannot delete it): consume with
// ack:auto until it stays quiet for 300 ms or ctx ends.
func (a *active) cleanup(ctx context.Context) error {
	conn, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Disconnect()
	sub, err := conn.Subscribe(a.queue, stomp.AckAuto, stomp.SubscribeOpt.Header("activemq.prefetchSize", "1000"))
	if err != nil {
		return fmt.Errorf("drain %s: %w", a.queue, err)
	}
	defer sub.Unsubscribe()
	t := time.NewTimer(time.Second) // the first message may take a moment
	defer t.Stop()
	for {
		select {
		case m, ok := <-sub.C:
			if !ok || m.Err != nil {
				return fmt.Errorf("drain %s: subscription ended", a.queue)
			}
			t.Reset(300 * time.Millisecond)
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type activeSender struct {
	a    *active
	conn *stomp.Conn
	opts []func(*frame.Frame) error // every SEND's headers
	one  []func(*frame.Frame) error // a lone SEND's: opts and a receipt
}

func (a *active) newProducer(ctx context.Context) (sender, error) {
	conn, err := a.dial(ctx)
	if err != nil {
		return nil, err
	}
	s := &activeSender{a: a, conn: conn, opts: []func(*frame.Frame) error{stomp.SendOpt.Header("persistent", "true")}}
	if a.c.KeyHeaders {
		// mqbench's load keys each producer's messages with its 4-byte
		// id, which the adapter sends hex-encoded as JMSXGroupID (a
		// message group) and mqbench-key-hex.
		key := fmt.Sprintf("%08x", a.producers.Add(1)-1)
		s.opts = append(s.opts, stomp.SendOpt.Header("JMSXGroupID", key), stomp.SendOpt.Header("mqbench-key-hex", key))
	}
	s.one = slices.Concat(s.opts, []func(*frame.Frame) error{stomp.SendOpt.Receipt})
	return s, nil
}

// send sends the bodies persistent in one transaction and waits for the
// COMMIT's receipt (go-stomp bounds it by RcvReceiptTimeout); one body goes
// alone with its own receipt, as the adapter does.
func (s *activeSender) send(ctx context.Context, bodies [][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(bodies) == 1 {
		return s.conn.Send(s.a.topic, "", bodies[0], s.one...)
	}
	tx, err := s.conn.BeginWithError()
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for _, b := range bodies {
		if err := tx.Send(s.a.topic, "", b, s.opts...); err != nil {
			_ = tx.Abort()
			return fmt.Errorf("send: %w", err)
		}
	}
	if err := tx.CommitWithReceipt(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (s *activeSender) close() { _ = s.conn.Disconnect() }

type activeConsumer struct {
	conn *stomp.Conn
	done chan struct{}
}

func (a *active) newConsumer(ctx context.Context, onMsg func([]byte)) (closer, error) {
	conn, err := a.dial(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := conn.Subscribe(a.queue, stomp.AckClientIndividual,
		stomp.SubscribeOpt.Header("activemq.prefetchSize", strconv.Itoa(a.c.Prefetch)))
	if err != nil {
		_ = conn.Disconnect()
		return nil, fmt.Errorf("subscribe %s: %w", a.queue, err)
	}
	ac := &activeConsumer{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(ac.done)
		for m := range sub.C { // closed when the connection ends
			if m.Err != nil {
				return
			}
			if onMsg == nil {
				// Idle: never acknowledged, so the broker stops at the
				// prefetch. The loop must go on reading: go-stomp's
				// connection goroutine also sends the heart-beats, and it
				// blocks while this subscription's channel is full, so a
				// consumer that stopped reading would be dropped by the
				// broker as inactive within seconds.
				continue
			}
			onMsg(m.Body)
			_ = conn.Ack(m) // no receipt asked: a write bounded by MsgSendTimeout
		}
	}()
	return ac, nil
}

func (ac *activeConsumer) close() {
	_ = ac.conn.Disconnect() // the connection is gone either way
	<-ac.done
}
