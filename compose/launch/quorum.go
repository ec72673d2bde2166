package launch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// quorumState is the KRaft metadata quorum as its leader reports it.
type quorumState struct {
	leader, epoch int
	voters        map[int]bool
}

// describeQuorum sends a DescribeQuorum (key 55) v0 request for the
// __cluster_metadata partition to a KRaft controller listener. Only the
// quorum leader answers it; the others return NOT_LEADER_OR_FOLLOWER, an
// error here. Blocks at most timeout.
func describeQuorum(ctx context.Context, addr string, timeout time.Duration) (quorumState, error) {
	c, err := dial(ctx, addr, timeout)
	if err != nil {
		return quorumState{}, err
	}
	defer c.Close()
	const corr = 0x6d716232
	clientID := "mqbench-status"
	const topic = "__cluster_metadata"
	body := binary.BigEndian.AppendUint16(nil, 55) // DescribeQuorum
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint32(body, corr)
	body = binary.BigEndian.AppendUint16(body, uint16(len(clientID)))
	body = append(body, clientID...)
	body = append(body, 0) // header tagged fields
	body = append(body, 2) // topics: compact array of 1
	body = append(body, byte(len(topic)+1))
	body = append(body, topic...)
	body = append(body, 2)          // partitions: compact array of 1
	body = append(body, 0, 0, 0, 0) // partition 0
	body = append(body, 0, 0, 0)    // tagged fields: partition, topic, request
	req := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := c.Write(append(req, body...)); err != nil {
		return quorumState{}, fmt.Errorf("send DescribeQuorum: %w", err)
	}
	var sz [4]byte
	if _, err := io.ReadFull(c, sz[:]); err != nil {
		return quorumState{}, fmt.Errorf("read DescribeQuorum response: %w", err)
	}
	size := binary.BigEndian.Uint32(sz[:])
	if size < 8 || size > maxFrame {
		return quorumState{}, fmt.Errorf("DescribeQuorum response size %d out of range", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(c, b); err != nil {
		return quorumState{}, fmt.Errorf("read DescribeQuorum response: %w", err)
	}
	if got := binary.BigEndian.Uint32(b); got != corr {
		return quorumState{}, fmt.Errorf("DescribeQuorum correlation id %d, want %d", got, corr)
	}
	return parseDescribeQuorum(b[4:])
}

// kbuf reads Kafka's flexible-version encoding; the first error sticks.
type kbuf struct {
	b   []byte
	err error
}

func (k *kbuf) take(n int) []byte {
	if k.err != nil || n < 0 || n > len(k.b) {
		k.err = errors.New("DescribeQuorum response truncated")
		return nil
	}
	v := k.b[:n]
	k.b = k.b[n:]
	return v
}

func (k *kbuf) uvarint() int {
	if k.err != nil {
		return 0
	}
	v, n := binary.Uvarint(k.b)
	if n <= 0 || v > maxFrame {
		k.err = errors.New("DescribeQuorum response: bad varint")
		return 0
	}
	k.b = k.b[n:]
	return int(v)
}

func (k *kbuf) int16() int {
	v := k.take(2)
	if v == nil {
		return 0
	}
	return int(int16(binary.BigEndian.Uint16(v)))
}

func (k *kbuf) int32() int {
	v := k.take(4)
	if v == nil {
		return 0
	}
	return int(int32(binary.BigEndian.Uint32(v)))
}

// skipTags skips a tagged-fields section.
func (k *kbuf) skipTags() {
	for n := k.uvarint(); n > 0 && k.err == nil; n-- {
		k.uvarint()
		k.take(k.uvarint())
	}
}

// parseDescribeQuorum parses a DescribeQuorum v0 response after the
// correlation id: header tags, error code, then one topic with one
// partition.
func parseDescribeQuorum(b []byte) (quorumState, error) {
	k := &kbuf{b: b}
	k.skipTags()
	if code := k.int16(); code != 0 {
		return quorumState{}, fmt.Errorf("DescribeQuorum error code %d (not the quorum leader?)", code)
	}
	if k.uvarint() != 2 {
		return quorumState{}, errors.New("DescribeQuorum: want one topic")
	}
	k.take(k.uvarint() - 1) // topic name
	if k.uvarint() != 2 {
		return quorumState{}, errors.New("DescribeQuorum: want one partition")
	}
	k.int32() // partition index
	if code := k.int16(); code != 0 && k.err == nil {
		return quorumState{}, fmt.Errorf("DescribeQuorum partition error code %d (not the quorum leader?)", code)
	}
	q := quorumState{leader: k.int32(), epoch: k.int32(), voters: map[int]bool{}}
	k.take(8) // high watermark
	for n := k.uvarint() - 1; n > 0 && k.err == nil; n-- {
		q.voters[k.int32()] = true
		k.take(8) // log end offset
		k.skipTags()
	}
	if k.err != nil {
		return quorumState{}, k.err
	}
	return q, nil
}
