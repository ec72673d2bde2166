package rabbitmq

import (
	"errors"
	"strconv"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/mqbench/mqbench/adapters/driver"
)

func TestPartitionOf(t *testing.T) {
	for _, n := range []int{1, 2, 7} {
		seen := map[int]bool{}
		for k := range 200 {
			key := []byte("key-" + strconv.Itoa(k))
			p := partitionOf(key, n)
			if p < 0 || p >= n {
				t.Fatalf("partitionOf(%q, %d) = %d, out of range", key, n, p)
			}
			if again := partitionOf(key, n); again != p {
				t.Fatalf("partitionOf(%q, %d) = %d then %d: want stable", key, n, p, again)
			}
			seen[p] = true
		}
		if len(seen) != n {
			t.Errorf("200 keys over %d partitions reached only %d", n, len(seen))
		}
	}
}

func TestStreamRouting(t *testing.T) {
	p := &producer{partitions: 3}
	key := []byte("key-\x00\xff")
	rk, h := p.routing(key)
	if rk != strconv.Itoa(partitionOf(key, 3)) {
		t.Errorf("stream routing key %q, want the partition %d", rk, partitionOf(key, 3))
	}
	if got, _ := h[keyHeader].([]byte); string(got) != string(key) {
		t.Errorf("stream key header %q, want %q", got, key)
	}
	classic := &producer{}
	if rk, h := classic.routing([]byte("k")); rk != "k" || h != nil {
		t.Errorf("classic routing = %q, %v; want the key and no header", rk, h)
	}
}

func TestPartPosPosition(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    partPos
		want int64
	}{
		{"new group: first retained", partPos{start: firstOffset, maxAcked: -1}, firstOffset},
		{"acked prefix", partPos{start: 0, maxAcked: 19}, 20},
		{"unacked holds the position", partPos{start: 0, maxAcked: 9, inflight: map[int64]struct{}{4: {}, 7: {}}}, 4},
		{"resubscribed, nothing acked since", partPos{start: 30, maxAcked: 29}, 30},
	} {
		if got := tc.p.position(); got != tc.want {
			t.Errorf("%s: position %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestGroupAssignment: the consumers of a group share its partitions, a
// member that leaves hands its partitions on at the group's position, and
// deliveries of a partition reassigned meanwhile are dropped.
func TestGroupAssignment(t *testing.T) {
	b := &groupBook{groups: map[groupKey]*groupState{}}
	g := b.group("d", "g", 3)
	if b.group("d", "g", 5) != g {
		t.Fatal("group: a known group must keep its state")
	}
	c1, c2 := &streamConsumer{}, &streamConsumer{}
	g.join(c1)
	parts, changed := g.assignment(c1)
	if len(parts) != 3 {
		t.Fatalf("one member owns %v, want all 3 partitions", parts)
	}
	if pos := g.subscribe(0); pos != firstOffset {
		t.Fatalf("new group starts at %d, want the first retained message", pos)
	}
	g.join(c2)
	select {
	case <-changed:
	default:
		t.Fatal("join did not signal the other members")
	}
	p1, _ := g.assignment(c1)
	p2, _ := g.assignment(c2)
	if len(p1)+len(p2) != 3 || len(p2) == 0 {
		t.Fatalf("two members own %v and %v, want the 3 partitions shared", p1, p2)
	}
	keep := g.delivered(c1, []int{0, 1}, []int64{10, 11})
	if !keep[0] || keep[1] {
		t.Fatalf("c1 owns partition 0 only: keep %v, want [true false]", keep)
	}
	g.acked([]int{0}, []int64{10})
	g.delivered(c1, []int{0}, []int64{11})
	g.leave(c1)
	p2, _ = g.assignment(c2)
	if len(p2) != 3 {
		t.Fatalf("after c1 left c2 owns %v, want all 3", p2)
	}
	if pos := g.subscribe(0); pos != 11 {
		t.Errorf("partition 0 handed on at %d, want 11 (10 acked, 11 delivered and not acked)", pos)
	}
	b.forget("d", []string{"g"})
	if b.group("d", "g", 1) == g {
		t.Error("forget kept the group's state")
	}
}

func TestStreamOffsetAndTag(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int64
	}{{int64(7), 7}, {int32(8), 8}, {int(9), 9}, {"x", -1}, {nil, -1}} {
		if got := streamOffset(amqp.Table{"x-stream-offset": tc.v}); got != tc.want {
			t.Errorf("streamOffset(%#v) = %d, want %d", tc.v, got, tc.want)
		}
	}
	for _, tc := range []struct {
		tag  string
		want int
	}{{partTag(0), 0}, {partTag(12), 12}, {"ctag-1", -1}, {"p", -1}, {"px", -1}} {
		if got := partOfTag(tc.tag); got != tc.want {
			t.Errorf("partOfTag(%q) = %d, want %d", tc.tag, got, tc.want)
		}
	}
}

func TestStreamPromise(t *testing.T) {
	for _, p := range driver.Profiles() {
		du := streamPromise(p, 2)
		if du.Synced {
			t.Errorf("%s: Synced true: streams never fsync", p)
		}
		if du.Promise == "" || du.Source == "" || du.Settings["x-queue-type"] != "stream" || du.Settings["partitions"] != "2" {
			t.Errorf("%s: incomplete %+v", p, du)
		}
	}
	if caps := DescribeStream().Capabilities; caps.Persistent || caps.Nack || caps.MaxLengthReject || !caps.Replay {
		t.Errorf("stream capabilities %+v: want Replay, and no Persistent (no fsync), Nack or MaxLengthReject", caps)
	}
}

func TestStreamNackUnsupported(t *testing.T) {
	c := &streamConsumer{}
	if err := c.Nack(t.Context(), nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Nack = %v, want errors.ErrUnsupported", err)
	}
}
