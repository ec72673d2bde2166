package stompclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

// SendFrame builds the SEND frame of m; tx, when not empty, puts it in that
// STOMP transaction. The frame must be fully written before Pipeline
// returns, so its body may share the caller's buffer.
type SendFrame func(m driver.Message, tx string) *frame.Frame

// unit is one confirmation Pipeline waits for: a single SEND with a
// receipt (n = 1) or the COMMIT of a transaction of n SENDs.
type unit struct {
	first, n int
	id       string // receipt id
	tx       string // transaction id, when n > 1
	ch       chan error
}

// Pipeline sends msgs over c in units of chunk messages (a STOMP
// transaction BEGIN, SENDs, COMMIT-with-receipt when chunk > 1, else one
// SEND with its own receipt) with at most window messages awaiting
// confirmation, and waits for every receipt. It returns nil when all were
// confirmed, or a *driver.SendError naming the unconfirmed ones; an ERROR
// frame about one unit fails only that unit's messages, anything else
// (the connection failed, ctx ended, a receipt did not arrive in time)
// stops the send and fails every message not yet confirmed. prefix (the
// adapter's name) starts every error message.
func Pipeline(ctx context.Context, c *Conn, msgs []driver.Message, chunk, window int, build SendFrame, prefix string) error {
	errs := make([]error, len(msgs))
	failed := false
	setErr := func(u unit, err error) {
		for i := u.first; i < u.first+u.n; i++ {
			errs[i] = err
		}
		failed = true
	}
	var inflight []unit
	outstanding := 0 // messages in inflight
	waitOldest := func() error {
		u := inflight[0]
		inflight = inflight[1:]
		outstanding -= u.n
		if err := c.Wait(ctx, u.id, u.ch); err != nil {
			if u.n > 1 {
				err = fmt.Errorf("transaction of %d messages: %w", u.n, err)
			}
			setErr(u, fmt.Errorf("%s: send not confirmed: %w", prefix, err))
			return err
		}
		if u.tx != "" {
			c.ReleaseTx(u.tx)
		}
		return nil
	}
	next := 0
	var stop error // set when sending cannot go on
	for next < len(msgs) && stop == nil {
		n := min(chunk, len(msgs)-next)
		for len(inflight) > 0 && outstanding+n > window {
			if err := c.Flush(); err != nil {
				stop = err
				break
			}
			if err := waitOldest(); fatal(err) {
				stop = err
				break
			}
		}
		if stop != nil {
			break
		}
		// Collect confirmations that already arrived without blocking.
		for len(inflight) > 0 && len(inflight[0].ch) > 0 && stop == nil {
			if err := waitOldest(); fatal(err) {
				stop = err
			}
		}
		if stop != nil {
			break
		}
		u := unit{first: next, n: n, id: c.NewID("r")}
		if n > 1 {
			u.tx = c.TxID()
		}
		u.ch = c.Expect(u.id)
		if err := writeUnit(c, msgs[next:next+n], build, u.id, u.tx); err != nil {
			c.Forget(u.id)
			stop = err
			break
		}
		inflight = append(inflight, u)
		outstanding += n
		next += n
	}
	if stop == nil {
		if err := c.Flush(); err != nil {
			stop = err
		}
	}
	if stop == nil {
		for len(inflight) > 0 {
			if err := waitOldest(); fatal(err) {
				stop = err
				break
			}
		}
	}
	if stop != nil {
		for _, u := range inflight {
			c.Forget(u.id)
			setErr(u, fmt.Errorf("%s: send not confirmed: %w", prefix, stop))
		}
		for i := next; i < len(msgs); i++ {
			errs[i] = fmt.Errorf("%s: not confirmed, sending stopped after a failure: %w", prefix, stop)
		}
		failed = true
	}
	if !failed {
		return nil
	}
	return &driver.SendError{Errs: errs}
}

// fatal reports whether a unit's error stops the whole Send: anything but an
// ERROR frame about that unit alone (the connection failed, ctx ended, or
// the broker stopped confirming in time).
func fatal(err error) bool {
	var be *BrokerError
	return err != nil && !errors.As(err, &be)
}

// writeUnit buffers the frames of one unit; receipt is the receipt id of its
// last frame (the SEND itself, or the COMMIT of transaction tx when there
// are several messages).
func writeUnit(c *Conn, msgs []driver.Message, build SendFrame, receipt, tx string) error {
	if len(msgs) == 1 {
		f := build(msgs[0], "")
		f.Header.Add(frame.Receipt, receipt)
		return c.Write(f)
	}
	if err := c.Write(frame.New(frame.BEGIN, frame.Transaction, tx)); err != nil {
		return err
	}
	for _, m := range msgs {
		if err := c.Write(build(m, tx)); err != nil {
			return err
		}
	}
	return c.Write(frame.New(frame.COMMIT, frame.Transaction, tx, frame.Receipt, receipt))
}
