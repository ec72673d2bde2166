package activemq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/stompclient"
)

// brokerList is the STOMP addresses of the brokers of one ActiveMQ
// deployment: one broker, or the brokers of a shared-store master/slave
// group, of which only the master (the one holding the store's lock) opens
// its connectors. Every new connection tries the brokers in turn, starting
// with the one that answered last, until one completes the STOMP handshake:
// that is the live master. Safe for concurrent use.
type brokerList struct {
	addrs []string
	live  atomic.Int32 // index of the broker that answered last
}

// newBrokerList splits a comma-separated address list (DefaultAddr when
// empty); blanks between commas are dropped.
func newBrokerList(list string) *brokerList {
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		addrs = []string{DefaultAddr}
	}
	return &brokerList{addrs: addrs}
}

// current is the address of the broker that answered last (the first one
// before any answered).
func (l *brokerList) current() string { return l.addrs[int(l.live.Load())%len(l.addrs)] }

// String is the list as given, comma-separated.
func (l *brokerList) String() string { return strings.Join(l.addrs, ",") }

// dial connects to the first broker of the list, in turn from the one that
// answered last, that completes the STOMP handshake; each attempt is bounded
// by opTO and all of them by ctx. A broker that refuses, hangs or answers
// something else than STOMP is skipped (a slave does not listen). It fails,
// naming every address and its error, when none answers.
func (l *brokerList) dial(ctx context.Context, opTO time.Duration, log *slog.Logger) (*stompclient.Conn, error) {
	start := int(l.live.Load())
	var errs []error
	for i := range l.addrs {
		k := (start + i) % len(l.addrs)
		c, err := stompclient.Dial(ctx, l.addrs[k], opTO, log)
		if err == nil {
			if k != start && len(l.addrs) > 1 {
				log.Info("activemq: connected to another broker of the list", "addr", l.addrs[k], "previous", l.addrs[start])
			}
			l.live.Store(int32(k))
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("no broker of %s answered: %w", l, errors.Join(errs...))
}
