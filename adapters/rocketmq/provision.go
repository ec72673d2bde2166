package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/rocketmq/internal/remoting"
)

// maxQueues bounds Destination.Partitions; RocketMQ brokers accept more, but
// a bigger number is almost certainly a mistake in a benchmark.
const maxQueues = 1024

// names is a destination translated to RocketMQ names.
type names struct {
	topic  string
	groups []string
	queues int
}

func resolve(dest driver.Destination) (names, error) {
	if dest.Name == "" {
		return names{}, errors.New("rocketmq: destination has no name")
	}
	if len(dest.Groups) == 0 {
		return names{}, fmt.Errorf("rocketmq: destination %q has no consumer group", dest.Name)
	}
	if dest.Partitions < 0 || dest.Partitions > maxQueues {
		return names{}, fmt.Errorf("rocketmq: destination %q: partitions %d out of range 0..%d", dest.Name, dest.Partitions, maxQueues)
	}
	n := names{topic: topicName(dest.Name), queues: max(dest.Partitions, 1)}
	if err := validName(n.topic); err != nil {
		return names{}, err
	}
	for _, g := range dest.Groups {
		if err := validName(topicName(g)); err != nil {
			return names{}, err
		}
		n.groups = append(n.groups, groupName(n.topic, g))
	}
	return n, nil
}

// maxGroupLen keeps "%RETRY%"+group and "%DLQ%"+group within RocketMQ's
// topic name limit (127).
const maxGroupLen = 120

// groupName is the RocketMQ consumer group of destination group g on topic.
// RocketMQ groups are cluster-wide and all consumers of a group must
// subscribe to the same topics (a group's queues are shared out among all
// its online clients, whatever they subscribe), so the group is scoped to
// the topic: "<topic>__<group>", shortened with a hash when too long.
func groupName(topic, g string) string {
	name := topic + "__" + topicName(g)
	if len(name) <= maxGroupLen {
		return name
	}
	h := fnv.New64a()
	h.Write([]byte(topic))
	h.Write([]byte{0})
	h.Write([]byte(g))
	sum := strconv.FormatUint(h.Sum64(), 36)
	keep := (maxGroupLen - len(sum) - 3) / 2
	return topic[:min(len(topic), keep)] + "__" + topicName(g)[:min(len(g), keep)] + "_" + sum
}

// validName checks RocketMQ's rule for topic and group names.
func validName(s string) error {
	if s == "" || len(s) > 127 {
		return fmt.Errorf("rocketmq: name %q must have 1 to 127 characters", s)
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '|' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return fmt.Errorf("rocketmq: name %q: character %q not allowed (letters, digits, '-', '_', '.')", s, r)
		}
	}
	return nil
}

func (n names) hasGroup(g string) bool {
	for _, x := range n.groups {
		if x == g {
			return true
		}
	}
	return false
}

// Provision creates the topic with dest.Partitions queues on every master
// broker, one subscription group and %RETRY% topic per dest.Groups entry, and
// commits the oldest retained message of every queue as the position of each
// group that has none, so a group receives every message sent after
// Provision returns even if it subscribes later (and, on an existing topic,
// what was retained before). It then waits, bounded by ctx and one minute,
// until the name server routes the topic and the retry topics, and logs how
// long that took. It is idempotent. MaxLength > 0 fails with
// errors.ErrUnsupported: RocketMQ has no bounded queue.
func (d *Driver) Provision(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if dest.MaxLength > 0 {
		return nil, fmt.Errorf("rocketmq: destination %q: max length %d: %w", dest.Name, dest.MaxLength, errUnsupported)
	}
	if dest.Unreplicated {
		return nil, fmt.Errorf("rocketmq: destination %q: unreplicated: a topic lives on a broker group, whose replicas all hold it: %w", dest.Name, errUnsupported)
	}
	n, err := resolve(dest)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for _, b := range d.masters() {
		if err := d.withOp(ctx, func(ctx context.Context) error { return d.createTopic(ctx, b.addr, n.topic, n.queues) }); err != nil {
			return nil, err
		}
		for _, g := range n.groups {
			if err := d.withOp(ctx, func(ctx context.Context) error { return d.createGroup(ctx, b.addr, g) }); err != nil {
				return nil, err
			}
			if err := d.withOp(ctx, func(ctx context.Context) error { return d.createTopic(ctx, b.addr, retryTopic(g), 1) }); err != nil {
				return nil, err
			}
		}
	}
	created := time.Since(start)
	cleanup := func(ctx context.Context) error { return d.unprovision(ctx, n) }

	waitStart := time.Now()
	want := map[string]int{n.topic: n.queues * len(d.masters())}
	for _, g := range n.groups {
		want[retryTopic(g)] = len(d.masters())
	}
	for topic, queues := range want {
		if err := d.waitRoute(ctx, topic, queues); err != nil {
			return nil, err
		}
	}
	routed := time.Since(waitStart)

	for _, b := range d.masters() {
		for _, g := range n.groups {
			for q := 0; q < n.queues; q++ {
				if err := d.withOp(ctx, func(ctx context.Context) error { return d.initOffset(ctx, b, g, n.topic, q) }); err != nil {
					return nil, err
				}
			}
		}
	}
	d.log.Info("provisioned", "topic", n.topic, "queues", n.queues, "groups", n.groups,
		"create", created, "route_wait", routed, "total", time.Since(start))
	return cleanup, nil
}

// initOffset commits the oldest retained message of queue q as group's
// position if it has none. On a new topic that is where Provision leaves
// it; on an existing one the group replays what is retained rather than
// miss anything (in particular after a broker restart that lost a position
// committed moments before).
func (d *Driver) initOffset(ctx context.Context, b brokerInfo, group, topic string, q int) error {
	off, err := d.consumerOffset(ctx, b.addr, b.name, group, topic, q)
	if err != nil {
		return fmt.Errorf("rocketmq: read position of %s in %s[%d]: %w", group, topic, q, err)
	}
	if off >= 0 {
		return nil
	}
	first, err := d.minOffset(ctx, b.addr, b.name, topic, q)
	if err != nil {
		return fmt.Errorf("rocketmq: read start of %s[%d]: %w", topic, q, err)
	}
	return d.commitOffset(ctx, b.addr, b.name, group, topic, q, first)
}

// waitRoute polls the name server until topic has at least queues readable
// and writable queues.
func (d *Driver) waitRoute(ctx context.Context, topic string, queues int) error {
	ctx, cancel := context.WithTimeout(ctx, routeWaitMax)
	defer cancel()
	delay := 20 * time.Millisecond
	var last error
	for {
		rd, err := d.withOpRoute(ctx, topic)
		if err == nil {
			n := 0
			for _, q := range rd {
				if q.Perm&(permRead|permWrite) == permRead|permWrite {
					n += min(q.ReadQueueNums, q.WriteQueueNums)
				}
			}
			if n >= queues {
				return nil
			}
			last = fmt.Errorf("route has %d of %d queues", n, queues)
		} else if remoting.IsCode(err, remoting.TopicNotExist) {
			last = errors.New("name server does not route it yet")
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rocketmq: wait for route of topic %s: %w (%v)", topic, ctx.Err(), last)
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

func (d *Driver) withOpRoute(ctx context.Context, topic string) ([]queueData, error) {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	return d.route(ctx, topic)
}

// withOp runs f bounded by the operation timeout.
func (d *Driver) withOp(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	return f(ctx)
}

// unprovision deletes the topic, the groups and their retry and dead-letter
// topics. Errors are joined; it goes on after one.
func (d *Driver) unprovision(ctx context.Context, n names) error {
	var errs []error
	// A broker group's master may have moved since Provision.
	if err := d.withOp(ctx, d.refreshMasters); err != nil {
		d.log.Debug("re-read the masters before cleanup", "err", err)
	}
	for _, b := range d.masters() {
		errs = append(errs, d.withOp(ctx, func(ctx context.Context) error { return d.deleteTopic(ctx, b.addr, n.topic) }))
		for _, g := range n.groups {
			errs = append(errs,
				d.withOp(ctx, func(ctx context.Context) error { return d.deleteTopic(ctx, b.addr, retryTopic(g)) }),
				d.withOp(ctx, func(ctx context.Context) error { return d.deleteGroup(ctx, b.addr, g) }))
			// The dead-letter topic exists only if something died.
			if err := d.withOp(ctx, func(ctx context.Context) error { return d.deleteTopic(ctx, b.addr, dlqTopic(g)) }); err != nil &&
				!remoting.IsCode(err, remoting.TopicNotExist) {
				d.log.Debug("delete dead-letter topic", "group", g, "err", err)
			}
		}
	}
	return errors.Join(errs...)
}

// Depth returns how many messages wait for group: the sum over the topic's
// queues and the group's retry queue of end offset minus committed position.
// Consumers commit their positions every five seconds and on Close; Depth
// first asks this driver's open consumers of the group to commit (one way),
// so only consumers in other processes can make it lag by up to five
// seconds. Messages waiting in the broker's delay schedule after a Nack are
// not included.
func (d *Driver) Depth(ctx context.Context, dest driver.Destination, group string) (int64, error) {
	n, err := resolve(dest)
	if err != nil {
		return 0, err
	}
	g := groupName(n.topic, group)
	if !n.hasGroup(g) {
		return 0, fmt.Errorf("rocketmq: group %q is not one of destination %q's groups", group, dest.Name)
	}
	for _, c := range d.consumersOf(g, n.topic) {
		_ = c.pc.PersistOffset(ctx, n.topic) // fails only once the consumer is shut down
	}
	var total int64
	for _, b := range d.masters() {
		for _, tq := range []struct {
			topic  string
			queues int
		}{{n.topic, n.queues}, {retryTopic(g), 1}} {
			for q := 0; q < tq.queues; q++ {
				var lag int64
				err := d.onMaster(ctx, b.name, func(ctx context.Context, addr string) error {
					end, err := d.maxOffset(ctx, addr, b.name, tq.topic, q)
					if err != nil {
						return err
					}
					pos, err := d.consumerOffset(ctx, addr, b.name, g, tq.topic, q)
					if err != nil {
						return err
					}
					if pos < 0 {
						if pos, err = d.minOffset(ctx, addr, b.name, tq.topic, q); err != nil {
							return err
						}
					}
					lag = max(end-pos, 0)
					return nil
				})
				if err != nil {
					return 0, fmt.Errorf("rocketmq: depth of %s in %s[%d]: %w", g, tq.topic, q, err)
				}
				total += lag
			}
		}
	}
	return total, nil
}

// DeadLetters returns how many messages of dest's group the brokers moved
// to its %DLQ% topic (after MaxReconsumeTimes nacks). They are not lost:
// they wait there for inspection.
func (d *Driver) DeadLetters(ctx context.Context, dest driver.Destination, group string) (int64, error) {
	n, err := resolve(dest)
	if err != nil {
		return 0, err
	}
	g := groupName(n.topic, group)
	var total int64
	for _, b := range d.masters() {
		var end int64
		err := d.onMaster(ctx, b.name, func(ctx context.Context, addr string) error {
			var err error
			end, err = d.maxOffset(ctx, addr, b.name, dlqTopic(g), 0)
			return err
		})
		if remoting.IsCode(err, remoting.TopicNotExist) || remoting.IsCode(err, remoting.SystemError) {
			continue // no dead letter yet
		}
		if err != nil {
			return 0, fmt.Errorf("rocketmq: dead letters of %s: %w", g, err)
		}
		total += end
	}
	return total, nil
}
