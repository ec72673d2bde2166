package artemis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/stompclient"
)

// Artemis's management over messaging: a message sent to the management
// address names a resource ("broker", "queue.<name>") and either an
// attribute or an operation (with its arguments as a JSON array body); the
// broker answers on the message's reply-to address with
// _AMQ_OperationSucceeded and the result as a JSON array of one value.
// Over STOMP the request must be a text message (no content-length header)
// and the reply-to header names the reply address.
const (
	managementAddress = "activemq.management"
	hdrResource       = "_AMQ_ResourceName"
	hdrAttribute      = "_AMQ_Attribute"
	hdrOperation      = "_AMQ_OperationName"
	hdrSucceeded      = "_AMQ_OperationSucceeded"
	resourceBroker    = "broker"
	replyPrefix       = "mqbench.management.reply."
)

// errManagement marks an answer in which the broker reports a failed
// management call.
var errManagement = errors.New("management call failed")

// management is one request/reply session with the broker's management
// address on its own connection. One call at a time.
type management struct {
	c     *stompclient.Conn
	reply string // the reply address, unique to this session
	q     *stompclient.SubQueue
	sid   string
}

// openManagement subscribes (multicast, a temporary subscription queue that
// the broker removes with the subscription) to a fresh reply address.
func openManagement(ctx context.Context, c *stompclient.Conn) (*management, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	m := &management{c: c, reply: replyPrefix + hex.EncodeToString(b[:]), sid: c.NewID("m")}
	m.q = c.Subscribe(m.sid)
	sub := frame.New(frame.SUBSCRIBE,
		frame.Destination, m.reply,
		frame.Id, m.sid,
		frame.Ack, "auto",
		hdrSubscription, multicast)
	if err := c.RoundTrip(ctx, sub); err != nil {
		return nil, fmt.Errorf("subscribe to management replies: %w", err)
	}
	return m, nil
}

// close unsubscribes and asks the broker to delete the reply address (its
// answer is not awaited: it would go to that address).
func (m *management) close(ctx context.Context) {
	m.c.UnsubscribeLocal(m.sid)
	if err := m.c.RoundTrip(ctx, frame.New(frame.UNSUBSCRIBE, frame.Id, m.sid)); err != nil {
		return
	}
	body, _ := json.Marshal([]any{m.reply, true})
	f := m.request(resourceBroker, hdrOperation, "deleteAddress", body)
	_ = m.c.RoundTrip(ctx, f)
}

// request builds a management request message.
func (m *management) request(resource, kind, name string, body []byte) *frame.Frame {
	f := frame.New(frame.SEND,
		frame.Destination, managementAddress,
		hdrReplyTo, m.reply,
		hdrResource, resource,
		kind, name)
	f.Body = body
	return f
}

// attribute reads attribute attr of resource into out (a pointer to the
// attribute's Go type).
func (m *management) attribute(ctx context.Context, resource, attr string, out any) error {
	return m.call(ctx, m.request(resource, hdrAttribute, attr, nil), out)
}

// operation invokes op on resource with args; out may be nil.
func (m *management) operation(ctx context.Context, resource, op string, out any, args ...any) error {
	if args == nil {
		args = []any{}
	}
	body, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode arguments of %s: %w", op, err)
	}
	return m.call(ctx, m.request(resource, hdrOperation, op, body), out)
}

// call sends req and waits for its reply, bounded by ctx.
func (m *management) call(ctx context.Context, req *frame.Frame, out any) error {
	what := req.Header.Get(hdrResource) + " " + req.Header.Get(hdrAttribute) + req.Header.Get(hdrOperation)
	for { // drop late replies of earlier calls that timed out
		if fs, _ := m.q.Take(1 << 10); len(fs) == 0 {
			break
		}
	}
	if err := m.c.Send(req); err != nil {
		return fmt.Errorf("management %s: %w", what, err)
	}
	for {
		fs, err := m.q.Take(1)
		if len(fs) == 1 {
			return decodeReply(fs[0], what, out)
		}
		if err != nil {
			return fmt.Errorf("management %s: %w", what, err)
		}
		select {
		case <-m.q.Signal():
		case <-ctx.Done():
			return fmt.Errorf("management %s: no reply: %w", what, ctx.Err())
		}
	}
}

// decodeReply reads a management reply into out.
func decodeReply(f *frame.Frame, what string, out any) error {
	ok := f.Header.Get(hdrSucceeded) == "true"
	if ok && out == nil {
		return nil // operations without a result answer with an empty body
	}
	var vals []json.RawMessage
	if err := json.Unmarshal(f.Body, &vals); err != nil || len(vals) != 1 {
		return fmt.Errorf("management %s: unreadable reply %q", what, truncate(string(f.Body)))
	}
	if !ok {
		var msg string
		if json.Unmarshal(vals[0], &msg) != nil {
			msg = string(vals[0])
		}
		return fmt.Errorf("management %s: %w: %s", what, errManagement, truncate(msg))
	}
	if err := json.Unmarshal(vals[0], out); err != nil {
		return fmt.Errorf("management %s: reply %q: %w", what, truncate(string(vals[0])), err)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return strings.TrimSpace(s)
}

// withManagement opens a connection and a management session, runs f, and
// closes both. The whole is bounded by the driver's operation timeout.
func (d *Driver) withManagement(ctx context.Context, f func(ctx context.Context, m *management) error) error {
	ctx, cancel := context.WithTimeout(ctx, max(d.cfg.Timeout(), 5*time.Second))
	defer cancel()
	c, err := d.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	m, err := openManagement(ctx, c)
	if err != nil {
		return fmt.Errorf("artemis: %w", err)
	}
	defer m.close(ctx)
	return f(ctx, m)
}
