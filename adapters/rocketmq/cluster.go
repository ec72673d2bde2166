package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mqbench/mqbench/adapters/rocketmq/internal/remoting"
)

// splitAddrs splits a comma-separated address list, dropping blanks; an
// empty list is DefaultAddr.
func splitAddrs(list string) []string {
	var out []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return []string{DefaultAddr}
	}
	return out
}

// nameServerInvoke sends one request to the name servers in turn and
// returns the first answer. A broker error (an answer other than SUCCESS)
// is returned at once: every name server would say the same; a network
// error moves on to the next. The errors of all are joined.
func (d *Driver) nameServerInvoke(ctx context.Context, code int, ext map[string]string, body []byte) (*remoting.Command, error) {
	var errs []error
	for _, ns := range d.namesrvs {
		resp, err := d.admin.Invoke(ctx, ns, code, ext, body)
		if err == nil {
			return resp, nil
		}
		var ce *remoting.CodeError
		if errors.As(err, &ce) {
			return nil, err
		}
		errs = append(errs, fmt.Errorf("name server %s: %w", ns, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// masters returns a copy of the master of every broker group.
func (d *Driver) masters() []brokerInfo {
	d.bmu.Lock()
	defer d.bmu.Unlock()
	return append([]brokerInfo(nil), d.brokers...)
}

func (d *Driver) setMasters(bs []brokerInfo) {
	d.bmu.Lock()
	d.brokers = bs
	d.bmu.Unlock()
}

// refreshMasters re-reads the master address of every broker group from
// the name servers (after a failover the group's name stays, its master's
// address changes) and keeps what preflight learnt about each group.
func (d *Driver) refreshMasters(ctx context.Context) error {
	fresh, err := d.clusterInfo(ctx)
	if err != nil {
		return err
	}
	d.bmu.Lock()
	defer d.bmu.Unlock()
	for i := range d.brokers {
		for _, f := range fresh {
			if f.name == d.brokers[i].name && f.addr != d.brokers[i].addr {
				d.log.Info("broker group has a new master", "broker", f.name, "old", d.brokers[i].addr, "new", f.addr)
				d.brokers[i].addr = f.addr
			}
		}
	}
	return nil
}

// onMaster runs f with the master address of broker group name, bounded by
// the operation timeout. When f fails with a network error (not a broker
// answer), the masters are re-read from the name servers and f runs once
// more if the group's master moved.
func (d *Driver) onMaster(ctx context.Context, name string, f func(ctx context.Context, addr string) error) error {
	addr := d.brokerAddr(name)
	err := d.withOp(ctx, func(ctx context.Context) error { return f(ctx, addr) })
	var ce *remoting.CodeError
	if err == nil || errors.As(err, &ce) || ctx.Err() != nil {
		return err
	}
	if rerr := d.withOp(ctx, d.refreshMasters); rerr != nil {
		return errors.Join(err, rerr)
	}
	if now := d.brokerAddr(name); now != addr && now != "" {
		return d.withOp(ctx, func(ctx context.Context) error { return f(ctx, now) })
	}
	return err
}
