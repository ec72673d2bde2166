package drivertest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Message bodies, sending and receiving with a ledger, and the checks on
// what arrived: the helpers every conformance test uses.

// body returns the body of message i of a test run tagged id; bodies are
// padded to 64 bytes with bytes that include zero and 0xff.
func body(id string, i int) []byte {
	b := fmt.Appendf(nil, "%s#%d#", id, i)
	for len(b) < 64 {
		b = append(b, byte(len(b)*37))
	}
	return b
}

// parse returns the index of a body made by body(id, ...), or false for a
// foreign body.
func parse(id string, b []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(id+"#"))
	if !ok {
		return 0, false
	}
	num, _, ok := bytes.Cut(rest, []byte("#"))
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(num))
	if err != nil || !bytes.Equal(b, body(id, n)) {
		return 0, false
	}
	return n, true
}

// messages returns messages from..to-1 of id, with key(i).
func messages(id string, from, to int, key func(i int) []byte) []driver.Message {
	ms := make([]driver.Message, 0, to-from)
	for i := from; i < to; i++ {
		ms = append(ms, driver.Message{Key: key(i), Body: body(id, i)})
	}
	return ms
}

func oneKey(i int) []byte { return []byte("key-0") }

// send sends ms in chunks of at most MaxBatch and fails t unless all are
// confirmed.
func (s *suite) send(t *testing.T, p driver.Producer, ms []driver.Message) {
	t.Helper()
	step := len(ms)
	if s.caps.MaxBatch > 0 {
		step = s.caps.MaxBatch
	}
	for len(ms) > 0 {
		n := min(step, len(ms))
		if err := p.Send(s.ctx(t), ms[:n]); err != nil {
			t.Fatalf("send %d messages: %v", n, err)
		}
		ms = ms[n:]
	}
}

// got is one received message of the test run.
type got struct {
	i           int
	key         []byte
	redelivered bool
	d           *driver.Delivery
}

// receive receives from c until stop says so or the deadline passes,
// acking each batch when ack is set. Foreign bodies are acked and logged.
// It fails t on a receive error and when Receive returns more than max.
func (s *suite) receive(t *testing.T, c driver.Consumer, id string, ack bool, deadline time.Duration, stop func([]got) bool) []got {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var out []got
	const max = 50
	for !stop(out) {
		ds, err := c.Receive(ctx, max)
		if err != nil {
			if ctx.Err() != nil {
				return out
			}
			t.Fatalf("receive: %v", err)
		}
		if len(ds) == 0 || len(ds) > max {
			t.Fatalf("Receive(max=%d) returned %d deliveries with nil error", max, len(ds))
		}
		for _, d := range ds {
			i, ok := parse(id, d.Body)
			if !ok {
				t.Logf("ignoring foreign message %q", d.Body)
				continue
			}
			out = append(out, got{i: i, key: d.Key, redelivered: d.Redelivered, d: d})
		}
		if ack {
			if err := c.Ack(s.ctx(t), ds); err != nil {
				t.Fatalf("ack %d deliveries: %v", len(ds), err)
			}
		}
	}
	return out
}

// collect receives until n messages of the run arrived, then for Settle more
// to catch extra ones, and fails t when fewer than n arrived within Timeout.
func (s *suite) collect(t *testing.T, c driver.Consumer, id string, n int, ack bool) []got {
	t.Helper()
	out := s.receive(t, c, id, ack, s.h.timeout(), func(g []got) bool { return len(g) >= n })
	if len(out) < n {
		t.Fatalf("received %d of %d messages within %v: %v", len(out), n, s.h.timeout(), indexes(out))
	}
	more := s.receive(t, c, id, ack, s.h.settle(), func([]got) bool { return false })
	return append(out, more...)
}

// until receives until message want arrived; it fails t if it did not
// within Timeout.
func (s *suite) until(t *testing.T, c driver.Consumer, id string, want int, ack bool) []got {
	t.Helper()
	out := s.receive(t, c, id, ack, s.h.timeout(), func(g []got) bool {
		return len(g) > 0 && slices.ContainsFunc(g, func(x got) bool { return x.i == want })
	})
	if !slices.ContainsFunc(out, func(x got) bool { return x.i == want }) {
		t.Fatalf("message %d not received within %v (got %v)", want, s.h.timeout(), indexes(out))
	}
	return out
}

// indexes lists the message indexes of gs compactly, in arrival order, as
// runs like "0-48 50-98".
func indexes(gs []got) string {
	is := make([]int, len(gs))
	for k, g := range gs {
		is[k] = g.i
	}
	return ranges(is)
}

// ranges writes ascending runs of is as "a-b", others one by one.
func ranges(is []int) string {
	var b []byte
	for k := 0; k < len(is); {
		j := k
		for j+1 < len(is) && is[j+1] == is[j]+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		if j > k {
			b = fmt.Appendf(b, "%d-%d", is[k], is[j])
		} else {
			b = strconv.AppendInt(b, int64(is[k]), 10)
		}
		k = j + 1
		if len(b) > 400 {
			return string(b) + " ..."
		}
	}
	return "[" + string(b) + "]"
}

// expectExactly fails t unless gs holds each of want exactly once.
func expectExactly(t *testing.T, what string, gs []got, want []int) {
	t.Helper()
	seen := map[int]int{}
	for _, g := range gs {
		seen[g.i]++
	}
	var missing, dup, extra []int
	wanted := map[int]bool{}
	for _, i := range want {
		wanted[i] = true
		switch seen[i] {
		case 0:
			missing = append(missing, i)
		case 1:
		default:
			dup = append(dup, i)
		}
	}
	for i := range seen {
		if !wanted[i] {
			extra = append(extra, i)
		}
	}
	if len(missing)+len(dup)+len(extra) > 0 {
		slices.Sort(dup)
		slices.Sort(extra)
		t.Fatalf("%s: want each of %d messages exactly once; missing %s, duplicated %s, unexpected %s", what, len(want), ranges(missing), ranges(dup), ranges(extra))
	}
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func (s *suite) skipUnless(t *testing.T, declared bool, capability string) {
	t.Helper()
	if !declared {
		t.Skipf("capability %s not declared by %s: not tested", capability, s.info.Name)
	}
}
