package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/apiversions"
	meta "github.com/segmentio/kafka-go/protocol/metadata"
)

// rawConn is one uncached protocol connection to one broker. kafka-go's
// Transport serves Metadata from a cache refreshed in the background, and
// kafka.Conn asks the broker to auto-create the topics it looks up; the
// adapter needs neither when it checks that a broker answers or that a topic
// it created has leaders, so it asks on a connection of its own.
//
// A rawConn is used by one goroutine and closed after a few requests.
type rawConn struct {
	conn     net.Conn
	versions map[protocol.ApiKey][2]int16 // broker's [min, max] per API
	corr     atomic.Int32
	stop     func() bool
}

// dialRaw connects to the first of addrs that answers an ApiVersions request
// and returns the connection. Every read and write carries the deadline of
// ctx; cancelling ctx closes the connection.
func dialRaw(ctx context.Context, addrs []string) (*rawConn, error) {
	var errs []error
	for _, addr := range addrs {
		rc, err := dialRawOne(ctx, addr)
		if err == nil {
			return rc, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func dialRawOne(ctx context.Context, addr string) (*rawConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			conn.Close()
			return nil, err
		}
	}
	rc := &rawConn{conn: conn}
	rc.stop = context.AfterFunc(ctx, func() { conn.Close() })
	res, err := rc.roundTrip(0, &apiversions.Request{})
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("api versions: %w", err)
	}
	av := res.(*apiversions.Response)
	if av.ErrorCode != 0 {
		rc.Close()
		return nil, fmt.Errorf("api versions: %w", errorCode(av.ErrorCode, ""))
	}
	rc.versions = make(map[protocol.ApiKey][2]int16, len(av.ApiKeys))
	for _, k := range av.ApiKeys {
		rc.versions[protocol.ApiKey(k.ApiKey)] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return rc, nil
}

// roundTrip sends req at version v and reads the response.
func (rc *rawConn) roundTrip(v int16, req protocol.Message) (protocol.Message, error) {
	return protocol.RoundTrip(rc.conn, v, rc.corr.Add(1), clientID, req)
}

// request sends req at the highest version both sides support.
func (rc *rawConn) request(req protocol.Message) (protocol.Message, error) {
	key := req.ApiKey()
	vr, ok := rc.versions[key]
	if !ok {
		return nil, fmt.Errorf("broker does not support %s", key)
	}
	v := key.SelectVersion(vr[0], vr[1])
	if v < vr[0] || v > vr[1] {
		return nil, fmt.Errorf("no common %s version (broker %d-%d, client %d-%d)",
			key, vr[0], vr[1], key.MinVersion(), key.MaxVersion())
	}
	return rc.roundTrip(v, req)
}

// Close closes the connection.
func (rc *rawConn) Close() error {
	rc.stop()
	return rc.conn.Close()
}

// partitionInfo is what the adapter needs to know about one partition.
type partitionInfo struct {
	ID     int
	Leader int // -1 when none
	Err    error
}

// topicMetadata asks the broker, without creating anything, for topic's
// partitions. It returns an error wrapping kafka.UnknownTopicOrPartition when
// the topic does not exist.
func (rc *rawConn) topicMetadata(topic string) ([]partitionInfo, error) {
	res, err := rc.request(&meta.Request{TopicNames: []string{topic}, AllowAutoTopicCreation: false})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	m := res.(*meta.Response)
	for _, t := range m.Topics {
		if t.Name != topic {
			continue
		}
		if t.ErrorCode != 0 {
			return nil, fmt.Errorf("metadata for topic %q: %w", topic, errorCode(t.ErrorCode, ""))
		}
		out := make([]partitionInfo, len(t.Partitions))
		for i, p := range t.Partitions {
			out[i] = partitionInfo{ID: int(p.PartitionIndex), Leader: int(p.LeaderID), Err: errorCode(p.ErrorCode, "")}
		}
		return out, nil
	}
	return nil, fmt.Errorf("metadata for topic %q: not in the response", topic)
}

// clusterMetadata asks for the brokers only (no topics): the preflight
// handshake.
func (rc *rawConn) clusterMetadata() (brokers int, err error) {
	res, err := rc.request(&meta.Request{TopicNames: []string{}, AllowAutoTopicCreation: false})
	if err != nil {
		return 0, fmt.Errorf("metadata: %w", err)
	}
	return len(res.(*meta.Response).Brokers), nil
}

// errorCode turns a Kafka error code into an error wrapping kafkago.Error
// (nil for 0), so callers can test it with errors.Is.
func errorCode(code int16, msg string) error {
	if code == 0 {
		return nil
	}
	if msg != "" {
		return fmt.Errorf("%w: %s", kafkago.Error(code), msg)
	}
	return kafkago.Error(code)
}
