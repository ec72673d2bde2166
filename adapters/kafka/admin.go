package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

// maxNameLen is Kafka's limit on topic names.
const maxNameLen = 249

// validName reports whether s is a legal destination or group name: letters,
// digits, '-', '_' and '.', not empty, not "." or "..".
func validName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// checkDest validates dest and returns its partition count.
func checkDest(dest driver.Destination) (int, error) {
	if !validName(dest.Name) {
		return 0, fmt.Errorf("kafka: bad destination name %q: want 1-%d letters, digits, '-', '_', '.'", dest.Name, maxNameLen)
	}
	if dest.Partitions < 0 {
		return 0, fmt.Errorf("kafka: destination %q: negative partitions %d", dest.Name, dest.Partitions)
	}
	for _, g := range dest.Groups {
		if !validName(g) || len(dest.Name)+1+len(g) > maxNameLen {
			return 0, fmt.Errorf("kafka: destination %q: bad group name %q", dest.Name, g)
		}
	}
	return max(1, dest.Partitions), nil
}

// groupID is the Kafka consumer group of group on dest: prefixed with the
// topic, so equal group names on two destinations stay apart.
func groupID(dest driver.Destination, group string) string {
	return dest.Name + "." + group
}

// Provision creates the topic dest.Name with dest.Partitions partitions (an
// existing topic is reused as it is), waits until every partition has a
// leader, and positions every group of dest.Groups that has no committed
// offset at the current end of each partition, so it receives every message
// sent after Provision returns. Each wait is bounded by Config.OpTimeout and
// logged at info level. MaxLength > 0 is refused with errors.ErrUnsupported:
// Kafka has no per-group queue length. The cleanup deletes the groups and,
// if Provision created it, the topic.
func (d *Driver) Provision(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	parts, err := checkDest(dest)
	if err != nil {
		return nil, err
	}
	if len(dest.Groups) == 0 {
		return nil, fmt.Errorf("kafka: destination %q: no groups", dest.Name)
	}
	if dest.MaxLength > 0 {
		return nil, fmt.Errorf("kafka: destination %q: max length: %w", dest.Name, errors.ErrUnsupported)
	}
	topic := dest.Name

	start := time.Now()
	created, err := d.createTopic(ctx, topic, parts, dest.Unreplicated)
	if err != nil {
		return nil, err
	}
	n, err := d.waitLeaders(ctx, topic)
	if err != nil {
		return nil, err
	}
	if n != parts {
		d.log.Warn("kafka topic exists with another partition count", "topic", topic, "want", parts, "have", n)
	}
	if err := d.waitRoutable(ctx, topic, n); err != nil {
		return nil, err
	}
	d.log.Info("kafka topic ready", "topic", topic, "partitions", n, "created", created, "wait", time.Since(start))

	ends, err := d.offsets(ctx, topic, n, kafkago.LastOffset)
	if err != nil {
		return nil, err
	}
	groups := make([]string, len(dest.Groups))
	for i, g := range dest.Groups {
		groups[i] = groupID(dest, g)
		if err := d.positionGroup(ctx, groups[i], topic, ends); err != nil {
			return nil, err
		}
	}

	cleanup := func(ctx context.Context) error {
		ctx, cancel := d.opCtx(ctx)
		defer cancel()
		var errs []error
		if err := d.deleteGroups(ctx, groups); err != nil {
			errs = append(errs, err)
		}
		if created {
			if err := d.deleteTopic(ctx, topic); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return cleanup, nil
}

// createTopic creates topic, reporting whether it did (false when it
// existed). The broker's default.replication.factor applies, unless
// single: then one replica, with min.insync.replicas=1 so that acks=all
// is met by that replica alone.
func (d *Driver) createTopic(ctx context.Context, topic string, parts int, single bool) (bool, error) {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	tc := kafkago.TopicConfig{
		Topic:             topic,
		NumPartitions:     parts,
		ReplicationFactor: -1,
		ConfigEntries:     topicConfigs(d.cfg.EffectiveProfile()),
	}
	if single {
		tc.ReplicationFactor = 1
		tc.ConfigEntries = append(tc.ConfigEntries, kafkago.ConfigEntry{ConfigName: "min.insync.replicas", ConfigValue: "1"})
	}
	res, err := d.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{tc}})
	if err != nil {
		return false, fmt.Errorf("kafka: create topic %q: %w", topic, err)
	}
	switch err := res.Errors[topic]; {
	case err == nil:
		return true, nil
	case errors.Is(err, kafkago.TopicAlreadyExists):
		return false, nil
	default:
		return false, fmt.Errorf("kafka: create topic %q: %w", topic, err)
	}
}

// waitLeaders polls uncached metadata until every partition of topic has a
// leader, and returns the partition count.
func (d *Driver) waitLeaders(ctx context.Context, topic string) (int, error) {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	var n int
	err := poll(ctx, func() (bool, error) {
		ps, err := d.rawTopic(ctx, topic)
		if err != nil {
			if errors.Is(err, kafkago.UnknownTopicOrPartition) || retriable(err) {
				return false, nil
			}
			return false, err
		}
		if len(ps) == 0 {
			return false, nil
		}
		for _, p := range ps {
			if p.Leader < 0 || p.Err != nil {
				return false, nil
			}
		}
		n = len(ps)
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("kafka: wait for leaders of %q: %w", topic, err)
	}
	return n, nil
}

// rawTopic reads topic's partitions on a fresh connection.
func (d *Driver) rawTopic(ctx context.Context, topic string) ([]partitionInfo, error) {
	rc, err := dialRaw(ctx, d.addrs)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return rc.topicMetadata(topic)
}

// partitions returns the partition count of an existing topic, failing
// promptly when the topic does not exist (it is never auto-created).
func (d *Driver) partitions(ctx context.Context, topic string) (int, error) {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	ps, err := d.rawTopic(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("kafka: topic %q: %w", topic, err)
	}
	if len(ps) == 0 {
		return 0, fmt.Errorf("kafka: topic %q has no partitions", topic)
	}
	return len(ps), nil
}

// waitRoutable waits until the shared transport's metadata cache knows a
// leader for each of topic's n partitions, so produce and offset requests
// can be routed.
func (d *Driver) waitRoutable(ctx context.Context, topic string, n int) error {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	err := poll(ctx, func() (bool, error) {
		md, err := d.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return false, nil
		}
		for _, t := range md.Topics {
			if t.Name != topic || t.Error != nil || len(t.Partitions) != n {
				continue
			}
			for _, p := range t.Partitions {
				if p.Error != nil || p.Leader.Host == "" {
					return false, nil
				}
			}
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("kafka: wait for metadata of %q: %w", topic, err)
	}
	return nil
}

// offsets lists, for partitions 0..n-1 of topic, the first (which =
// kafkago.FirstOffset) or end (kafkago.LastOffset) offset.
func (d *Driver) offsets(ctx context.Context, topic string, n int, which int64) ([]int64, error) {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	reqs := make([]kafkago.OffsetRequest, n)
	for p := range reqs {
		reqs[p] = kafkago.OffsetRequest{Partition: p, Timestamp: which}
	}
	out := make([]int64, n)
	var last error
	err := poll(ctx, func() (bool, error) {
		res, err := d.client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
		if err != nil {
			last = err
			return false, nil
		}
		got := 0
		for _, po := range res.Topics[topic] {
			if po.Error != nil {
				last = po.Error
				return false, nil
			}
			if po.Partition < 0 || po.Partition >= n {
				continue
			}
			if which == kafkago.FirstOffset {
				out[po.Partition] = po.FirstOffset
			} else {
				out[po.Partition] = po.LastOffset
			}
			got++
		}
		return got == n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("kafka: list offsets of %q: %w (last: %v)", topic, err, last)
	}
	return out, nil
}

// provisionMark is the metadata of the offsets Provision commits: it tells
// them apart from offsets a consumer committed.
const provisionMark = "mqbench-provision"

// position is a group's committed offset on one partition (-1 when none)
// and the metadata committed with it.
type position struct {
	offset   int64
	metadata string
}

// untouched reports whether no consumer has committed here yet.
func (p position) untouched() bool { return p.offset < 0 || p.metadata == provisionMark }

// committed returns group's committed position per partition of topic.
func (d *Driver) committed(ctx context.Context, group, topic string, n int) ([]position, error) {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	out := make([]position, n)
	var last error
	err := poll(ctx, func() (bool, error) {
		res, err := d.client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			last = err
			if retriable(err) {
				return false, nil
			}
			return false, err
		}
		for i := range out {
			out[i] = position{offset: -1}
		}
		for _, p := range res.Topics[topic] {
			if p.Error != nil {
				last = p.Error
				if retriable(p.Error) {
					return false, nil
				}
				return false, p.Error
			}
			if p.Partition >= 0 && p.Partition < n {
				out[p.Partition] = position{offset: p.CommittedOffset, metadata: p.Metadata}
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("kafka: fetch offsets of group %q: %w (last: %v)", group, err, last)
	}
	return out, nil
}

// positionGroup commits, marked with provisionMark, ends[p] for every
// partition p where group has no committed offset yet.
func (d *Driver) positionGroup(ctx context.Context, group, topic string, ends []int64) error {
	have, err := d.committed(ctx, group, topic, len(ends))
	if err != nil {
		return err
	}
	var commits []kafkago.OffsetCommit
	for p, pos := range have {
		if pos.offset < 0 {
			commits = append(commits, kafkago.OffsetCommit{Partition: p, Offset: ends[p], Metadata: provisionMark})
		}
	}
	return d.commitOffsets(ctx, group, topic, commits)
}

// rewindGroup moves group to the first retained offset of every partition
// of topic where no consumer has committed yet (the position is Provision's
// or none): the FromStart option.
func (d *Driver) rewindGroup(ctx context.Context, group, topic string, n int) error {
	have, err := d.committed(ctx, group, topic, n)
	if err != nil {
		return err
	}
	var firsts []int64
	var commits []kafkago.OffsetCommit
	for p, pos := range have {
		if !pos.untouched() {
			continue
		}
		if firsts == nil {
			if firsts, err = d.offsets(ctx, topic, n, kafkago.FirstOffset); err != nil {
				return err
			}
		}
		if pos.offset != firsts[p] {
			commits = append(commits, kafkago.OffsetCommit{Partition: p, Offset: firsts[p], Metadata: provisionMark})
		}
	}
	return d.commitOffsets(ctx, group, topic, commits)
}

// commitOffsets commits offsets for group from outside the group (as the
// admin tools do).
func (d *Driver) commitOffsets(ctx context.Context, group, topic string, commits []kafkago.OffsetCommit) error {
	if len(commits) == 0 {
		return nil
	}
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	var last error
	err := poll(ctx, func() (bool, error) {
		res, err := d.client.OffsetCommit(ctx, &kafkago.OffsetCommitRequest{
			GroupID:      group,
			GenerationID: -1, // a commit from outside the group (the admin way)
			Topics:       map[string][]kafkago.OffsetCommit{topic: commits},
		})
		if err != nil {
			last = err
			if retriable(err) {
				return false, nil
			}
			return false, err
		}
		for _, p := range res.Topics[topic] {
			if p.Error != nil {
				last = p.Error
				if liveGroup(p.Error) {
					return false, p.Error
				}
				if retriable(p.Error) {
					return false, nil
				}
				return false, p.Error
			}
		}
		return true, nil
	})
	if err != nil && liveGroup(err) {
		// The group has members: they hold the positions (and a member
		// that commits nothing starts per its own StartOffset).
		d.log.Warn("kafka group has live members; its position is left to them", "group", group, "topic", topic, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("kafka: position group %q on %q: %w (last: %v)", group, topic, err, last)
	}
	return nil
}

// liveGroup reports whether err is the broker refusing a commit from
// outside the group because the group has members.
func liveGroup(err error) bool {
	return errors.Is(err, kafkago.UnknownMemberId) || errors.Is(err, kafkago.IllegalGeneration) ||
		errors.Is(err, kafkago.RebalanceInProgress)
}

func (d *Driver) deleteGroups(ctx context.Context, groups []string) error {
	res, err := d.client.DeleteGroups(ctx, &kafkago.DeleteGroupsRequest{GroupIDs: groups})
	if err != nil {
		return fmt.Errorf("kafka: delete groups: %w", err)
	}
	var errs []error
	for g, err := range res.Errors {
		if err != nil && !errors.Is(err, kafkago.GroupIdNotFound) {
			errs = append(errs, fmt.Errorf("kafka: delete group %q: %w", g, err))
		}
	}
	return errors.Join(errs...)
}

func (d *Driver) deleteTopic(ctx context.Context, topic string) error {
	res, err := d.client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("kafka: delete topic %q: %w", topic, err)
	}
	if err := res.Errors[topic]; err != nil && !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		return fmt.Errorf("kafka: delete topic %q: %w", topic, err)
	}
	return nil
}

// Depth returns how many messages of dest wait for group: the sum over
// partitions of end offset minus committed offset (the group's lag). A
// partition without a committed offset counts from its first offset.
func (d *Driver) Depth(ctx context.Context, dest driver.Destination, group string) (int64, error) {
	if _, err := checkDest(dest); err != nil {
		return 0, err
	}
	n, err := d.partitions(ctx, dest.Name)
	if err != nil {
		return 0, err
	}
	ends, err := d.offsets(ctx, dest.Name, n, kafkago.LastOffset)
	if err != nil {
		return 0, err
	}
	have, err := d.committed(ctx, groupID(dest, group), dest.Name, n)
	if err != nil {
		return 0, err
	}
	var firsts []int64
	var depth int64
	for p := range n {
		from := have[p].offset
		if from < 0 {
			if firsts == nil {
				if firsts, err = d.offsets(ctx, dest.Name, n, kafkago.FirstOffset); err != nil {
					return 0, err
				}
			}
			from = firsts[p]
		}
		if lag := ends[p] - from; lag > 0 {
			depth += lag
		}
	}
	return depth, nil
}

// poll calls f until it reports done or fails, sleeping with a growing
// backoff (10 ms to 250 ms) in between, until ctx is done.
func poll(ctx context.Context, f func() (bool, error)) error {
	backoff := 10 * time.Millisecond
	for {
		done, err := f()
		if err != nil || done {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// retriable reports whether err is worth another attempt: a Kafka error
// Kafka marks temporary, or a connection-level failure.
func retriable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ke kafkago.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, kafkago.BrokerNotAvailable)
}
