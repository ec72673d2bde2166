package rocketmq

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/mqbench/mqbench/adapters/driver"
)

// txIDProperty binds a half message to the local transaction of the SendTx
// call that sent it.
const txIDProperty = "mqbtx"

// TxProducer sends RocketMQ transactional (half) messages. One goroutine at
// a time; Close from any.
//
// All transactional producers of one destination share the producer group
// "mqbench_tx_<topic>": the broker sends its check-back for an undecided
// message to any live producer of that group, as RocketMQ intends (a
// restarted producer answers for its predecessor), so check may be called
// for messages sent by another TxProducer of the same destination.
type TxProducer struct {
	d      *Driver
	topic  string
	p      rmq.TransactionProducer
	l      *txListener
	rr     atomic.Uint32
	closed chan struct{}
	once   sync.Once
}

// txListener is the client's TransactionListener. ExecuteLocalTransaction
// runs inside SendMessageInTransaction on the caller's goroutine;
// CheckLocalTransaction runs on the client's check-back goroutine.
type txListener struct {
	d     *Driver
	check func(ctx context.Context, m driver.Message) driver.TxState
	mu    sync.Mutex
	seq   uint64
	local map[string]localCall
}

type localCall struct {
	ctx context.Context
	f   func(ctx context.Context) driver.TxState
}

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	l.mu.Lock()
	call, ok := l.local[m.GetProperty(txIDProperty)]
	l.mu.Unlock()
	if !ok {
		return primitive.UnkonwnState // not ours: let the check-back decide
	}
	return toLocalState(call.f(call.ctx))
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	ctx, cancel := context.WithTimeout(context.Background(), l.d.cfg.Timeout())
	defer cancel()
	var key []byte
	if k := m.GetProperty(keyProperty); k != "" {
		key, _ = hex.DecodeString(k)
	}
	state := l.check(ctx, driver.Message{Key: key, Body: m.Body})
	l.d.log.Debug("transaction check-back", "msg_id", m.MsgId, "state", state.String())
	return toLocalState(state)
}

func toLocalState(s driver.TxState) primitive.LocalTransactionState {
	switch s {
	case driver.TxCommit:
		return primitive.CommitMessageState
	case driver.TxRollback:
		return primitive.RollbackMessageState
	default:
		return primitive.UnkonwnState
	}
}

func fromLocalState(s primitive.LocalTransactionState) driver.TxState {
	switch s {
	case primitive.CommitMessageState:
		return driver.TxCommit
	case primitive.RollbackMessageState:
		return driver.TxRollback
	default:
		return driver.TxUnknown
	}
}

// NewTxProducer starts a transactional producer on a provisioned
// destination. check answers the broker's check-back for undecided
// messages; it is called with a context bounded by the operation timeout.
// The broker checks a half message only after its transactionTimeOut (6 s by
// default) and then every transactionCheckInterval (30 s by default in 5.x).
func (d *Driver) NewTxProducer(ctx context.Context, dest driver.Destination, check func(ctx context.Context, m driver.Message) driver.TxState) (driver.TxProducer, error) {
	n, err := resolve(dest)
	if err != nil {
		return nil, err
	}
	if check == nil {
		return nil, fmt.Errorf("rocketmq: transactional producer needs a check function")
	}
	if d.cfg.EffectiveProfile() == driver.Unsafe {
		return nil, fmt.Errorf("rocketmq: transactions in the unsafe profile: %w", errUnsupported)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l := &txListener{d: d, check: check, local: map[string]localCall{}}
	inst := d.instanceName("tx")
	p, err := rmq.NewTransactionProducer(l, producerOptions(d, "mqbench_tx_"+n.topic, inst)...)
	if err != nil {
		return nil, fmt.Errorf("rocketmq: new transactional producer: %w", err)
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("rocketmq: start transactional producer: %w", err)
	}
	tp := &TxProducer{d: d, topic: n.topic, p: p, l: l, closed: make(chan struct{})}
	if err := d.track(tp); err != nil {
		p.Shutdown()
		return nil, err
	}
	return tp, nil
}

// SendTx stores m as a half message (confirmed only by SEND_OK), runs local,
// and tells the broker to commit or roll back per its answer (TxUnknown: the
// broker will call check later). It returns the state the broker was told.
// The client sends that decision one way, so the broker's receipt of it is
// not confirmed; a lost decision is settled by check-back. If the half
// message was not confirmed (or m has an empty body), local is not run and
// an error is returned.
func (tp *TxProducer) SendTx(ctx context.Context, m driver.Message, local func(ctx context.Context) driver.TxState) (driver.TxState, error) {
	select {
	case <-tp.closed:
		return driver.TxUnknown, driver.ErrClosed
	default:
	}
	if len(m.Body) == 0 {
		return driver.TxUnknown, errEmptyBody
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(closedCtx(tp.closed), cancel)
	defer stop()

	msg := primitive.NewMessage(tp.topic, append([]byte(nil), m.Body...))
	hint := 0
	if len(m.Key) > 0 {
		msg.WithProperty(keyProperty, hex.EncodeToString(m.Key))
		hint = queueHint(m.Key)
	} else {
		hint = int(tp.rr.Add(1) & 0x7fffffff)
	}
	msg.Queue = &primitive.MessageQueue{Topic: tp.topic, QueueId: hint}

	tp.l.mu.Lock()
	tp.l.seq++
	id := strconv.FormatUint(tp.l.seq, 10)
	tp.l.local[id] = localCall{ctx: ctx, f: local}
	tp.l.mu.Unlock()
	defer func() {
		tp.l.mu.Lock()
		delete(tp.l.local, id)
		tp.l.mu.Unlock()
	}()
	msg.WithProperty(txIDProperty, id)

	res, err := tp.p.SendMessageInTransaction(ctx, msg)
	if err != nil {
		if ctx.Err() != nil {
			return driver.TxUnknown, fmt.Errorf("rocketmq: send half message: %w (%v)", ctx.Err(), err)
		}
		return driver.TxUnknown, fmt.Errorf("rocketmq: send half message: %w", err)
	}
	state := fromLocalState(res.State)
	if err := sendStatusErr(res.SendResult); err != nil {
		return state, fmt.Errorf("half message: %w; local transaction not run, broker told %s", err, state)
	}
	return state, nil
}

// Close stops the producer. Undecided messages are checked back with
// another producer of the same destination, if any, until the broker gives
// up (transactionCheckMax) and discards them.
func (tp *TxProducer) Close() error {
	tp.once.Do(func() {
		close(tp.closed)
		tp.d.untrack(tp)
		tp.p.Shutdown()
	})
	return nil
}
