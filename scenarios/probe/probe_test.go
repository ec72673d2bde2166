package probe

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
)

// sendBatch stamps n messages on p, "sends" them with the given per-message
// errors and returns the bodies.
func sendBatch(p *Producer, n int, intended time.Time, errs []error) [][]byte {
	msgs := make([]driver.Message, n)
	bodies := make([][]byte, n)
	for i := range msgs {
		bodies[i] = make([]byte, 64)
		p.Stamp(bodies[i], intended, intended)
		msgs[i] = driver.Message{Body: bodies[i]}
	}
	var err error
	for _, e := range errs {
		if e != nil {
			err = &driver.SendError{Errs: errs}
		}
	}
	p.Sent(msgs, err, intended.Add(time.Millisecond))
	return bodies
}

func TestLedger(t *testing.T) {
	t0 := time.Now()
	tests := []struct {
		name    string
		deliver func(bodies [][]byte) [][]byte // order of deliveries to the group
		errs    []error                        // per message of the 10-message batch; nil = all confirmed
		want    struct{ received, lost, dup, reord, unconf, rejected int64 }
	}{
		{
			name:    "all delivered in order",
			deliver: func(b [][]byte) [][]byte { return b },
			want:    struct{ received, lost, dup, reord, unconf, rejected int64 }{received: 10},
		},
		{
			name:    "two lost",
			deliver: func(b [][]byte) [][]byte { return append(append([][]byte{}, b[:3]...), b[5:]...) },
			want:    struct{ received, lost, dup, reord, unconf, rejected int64 }{received: 8, lost: 2},
		},
		{
			name:    "one duplicated",
			deliver: func(b [][]byte) [][]byte { return append(append([][]byte{}, b...), b[4]) },
			want:    struct{ received, lost, dup, reord, unconf, rejected int64 }{received: 10, dup: 1},
		},
		{
			name: "one pair swapped",
			deliver: func(b [][]byte) [][]byte {
				out := append([][]byte{}, b...)
				out[2], out[3] = out[3], out[2]
				return out
			},
			want: struct{ received, lost, dup, reord, unconf, rejected int64 }{received: 10, reord: 1},
		},
		{
			name:    "unconfirmed never counted lost",
			deliver: func(b [][]byte) [][]byte { return b[:8] },
			errs:    []error{nil, nil, nil, nil, nil, nil, nil, nil, errors.New("timeout"), driver.ErrRejected},
			want:    struct{ received, lost, dup, reord, unconf, rejected int64 }{received: 8, unconf: 2, rejected: 1},
		},
		{
			name:    "unconfirmed but delivered anyway counts received",
			deliver: func(b [][]byte) [][]byte { return b },
			errs:    []error{errors.New("timeout"), nil, nil, nil, nil, nil, nil, nil, nil, nil},
			want:    struct{ received, lost, dup, reord, unconf, rejected int64 }{received: 10, unconf: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := New(Options{RunID: 7, Groups: []string{"g"}, Start: t0})
			p := st.Producer(0)
			errs := tt.errs
			if errs == nil {
				errs = make([]error, 10)
			}
			bodies := sendBatch(p, 10, t0, errs)
			c := st.Consumer("g")
			for _, b := range tt.deliver(bodies) {
				c.Record(b, t0.Add(2*time.Millisecond))
			}
			a := st.Summary(true).Accounting
			got := struct{ received, lost, dup, reord, unconf, rejected int64 }{a.Received, a.Lost, a.Duplicated, a.Reordered, a.Unconfirmed, a.Rejected}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if a.Sent != 10 || a.Confirmed+a.Unconfirmed != a.Sent {
				t.Fatalf("sent %d confirmed %d unconfirmed %d", a.Sent, a.Confirmed, a.Unconfirmed)
			}
		})
	}
}

func TestForeignAndFanOut(t *testing.T) {
	t0 := time.Now()
	st := New(Options{RunID: 1, Groups: []string{"email", "sms"}, Start: t0})
	bodies := sendBatch(st.Producer(0), 5, t0, make([]error, 5))
	email, sms := st.Consumer("email"), st.Consumer("sms")
	for _, b := range bodies {
		if _, k := email.Record(b, t0); k != First {
			t.Fatalf("kind = %v, want First", k)
		}
	}
	for _, b := range bodies[:4] {
		sms.Record(b, t0)
	}
	other := envelope.New(64, envelope.Header{RunID: 2})
	if _, k := sms.Record(other, t0); k != Foreign {
		t.Fatalf("other run: kind = %v, want Foreign", k)
	}
	if _, k := sms.Record([]byte("junk"), t0); k != Foreign {
		t.Fatalf("junk: kind = %v, want Foreign", k)
	}
	sum := st.Summary(true)
	if sum.Accounting.Received != 9 || sum.Accounting.Lost != 1 || sum.Accounting.Foreign != 2 || sum.Accounting.Groups != 2 {
		t.Fatalf("accounting %+v", sum.Accounting)
	}
	if sum.PerGroup["email"].Lost != 0 || sum.PerGroup["sms"].Lost != 1 {
		t.Fatalf("per group %+v", sum.PerGroup)
	}
	if want := []string{"group sms: producer 0 message 4 of 5 sent"}; !slices.Equal(sum.LostSample, want) {
		t.Fatalf("lost sample %q, want %q", sum.LostSample, want)
	}
}

func TestWarmupExcludedFromLatency(t *testing.T) {
	t0 := time.Now()
	st := New(Options{RunID: 1, Groups: []string{"g"}, Start: t0, Warmup: time.Second})
	p := st.Producer(0)
	warm := sendBatch(p, 3, t0, make([]error, 3))                    // intended in warm-up
	meas := sendBatch(p, 2, t0.Add(2*time.Second), make([]error, 2)) // measured
	c := st.Consumer("g")
	for _, b := range append(warm, meas...) {
		c.Record(b, t0.Add(3*time.Second))
	}
	sum := st.Summary(true)
	if sum.Accounting.Received != 5 {
		t.Fatalf("received %d, want 5 (warm-up is accounted)", sum.Accounting.Received)
	}
	if n := sum.Latency[EndToEnd].Count; n != 2 {
		t.Fatalf("end-to-end count %d, want 2 (warm-up excluded)", n)
	}
	if n := sum.Latency[Publish].Count; n != 2 {
		t.Fatalf("publish count %d, want 2", n)
	}
	// The corrected figure is measured from the intended time: 1 s here.
	if p50 := sum.Latency[EndToEnd].P50; p50 < 999 || p50 > 1001 {
		t.Fatalf("end-to-end p50 %.3f ms, want ≈1000", p50)
	}
	h, err := DecodeHistogram(sum.Latency[EndToEnd].Histogram)
	if err != nil || h.TotalCount() != 2 {
		t.Fatalf("histogram round trip: %v, count %v", err, h)
	}
}

func TestBitsetGrowth(t *testing.T) {
	var b bitset
	for _, s := range []uint64{0, 1, 65535, 65536, 1 << 20} {
		if b.set(s) {
			t.Fatalf("seq %d reported present before set", s)
		}
		if !b.set(s) || !b.has(s) {
			t.Fatalf("seq %d not present after set", s)
		}
	}
	if b.count() != 5 || b.has(2) {
		t.Fatalf("count %d", b.count())
	}
}

func TestBitsetFirstAndNot(t *testing.T) {
	var b, o bitset
	for _, s := range []uint64{0, 63, 64, 65535, 65536, 1<<20 + 3} {
		b.set(s)
	}
	o.set(63)
	o.set(65536)
	for _, tt := range []struct {
		max  int
		want []uint64
	}{
		{10, []uint64{0, 64, 65535, 1<<20 + 3}},
		{2, []uint64{0, 64}},
		{0, nil},
	} {
		if got := b.firstAndNot(&o, tt.max); !slices.Equal(got, tt.want) {
			t.Errorf("firstAndNot(max %d) = %v, want %v", tt.max, got, tt.want)
		}
	}
}

func TestTimelineBacklog(t *testing.T) {
	t0 := time.Now()
	st := New(Options{RunID: 1, Groups: []string{"g"}, Start: t0})
	bodies := sendBatch(st.Producer(0), 4, t0, make([]error, 4))
	c := st.Consumer("g")
	c.Record(bodies[0], t0.Add(1500*time.Millisecond))
	tl := st.Summary(true).Timeline
	if len(tl) != 2 || tl[0].Confirmed != 4 || tl[0].Backlog != 4 || tl[1].Received != 1 || tl[1].Backlog != 3 {
		t.Fatalf("timeline %+v", tl)
	}
}

// TestTimelineSizes: the timeline costs memory only for the seconds that
// happened, so a Stick sized for years (a huge duration) is cheap, and
// events past the size land in its last second.
func TestTimelineSizes(t *testing.T) {
	tests := []struct {
		name    string
		seconds int
		at      []time.Duration // receive times of the messages, from t0
		wantLen int
		wantT   int // second of the last entry
	}{
		{"years, events in the first seconds", 1 << 46, []time.Duration{0, 1500 * time.Millisecond}, 2, 1},
		{"years, an event after 3 days", 1 << 46, []time.Duration{72 * time.Hour}, 72*3600 + 1, 72 * 3600},
		{"short, late event clamped to the last second", 3, []time.Duration{time.Hour}, 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Now()
			st := New(Options{RunID: 1, Groups: []string{"g"}, Start: t0, Seconds: tt.seconds})
			bodies := sendBatch(st.Producer(0), len(tt.at), t0, make([]error, len(tt.at)))
			c := st.Consumer("g")
			for i, d := range tt.at {
				c.Record(bodies[i], t0.Add(d))
			}
			sum := st.Summary(true)
			tl := sum.Timeline
			if len(tl) != tt.wantLen || tl[len(tl)-1].T != tt.wantT || tl[len(tl)-1].Received == 0 {
				t.Fatalf("timeline of %d seconds, last %+v; want %d, last at %d", len(tl), tl[len(tl)-1], tt.wantLen, tt.wantT)
			}
			if sum.Accounting.Received != int64(len(tt.at)) || sum.Accounting.Lost != 0 {
				t.Fatalf("accounting %+v", sum.Accounting)
			}
		})
	}
}

// TestMissingIgnoresUnconfirmedReceipts: a message received although its
// send failed (the broker stored it after all) must not make up for a
// confirmed one still missing. Remaining, a cheap lower bound, says 0;
// Missing and Drained must not.
func TestMissingIgnoresUnconfirmedReceipts(t *testing.T) {
	t0 := time.Now()
	st := New(Options{RunID: 1, Groups: []string{"g"}, Start: t0})
	bodies := sendBatch(st.Producer(0), 3, t0, []error{nil, nil, errors.New("connection lost")})
	c := st.Consumer("g")
	c.Record(bodies[0], t0)
	c.Record(bodies[2], t0) // unconfirmed, yet received
	if r := st.Snapshot().Remaining(); r != 0 {
		t.Fatalf("Remaining = %d, want 0 (the lower bound this test is about)", r)
	}
	if m := st.Missing(); m != 1 {
		t.Fatalf("Missing = %d, want 1 (message 1)", m)
	}
	if st.Drained() {
		t.Fatal("Drained with confirmed message 1 missing")
	}
	c.Record(bodies[1], t0)
	if m := st.Missing(); m != 0 || !st.Drained() {
		t.Fatalf("after message 1: Missing = %d, Drained = %v", m, st.Drained())
	}
	if a := st.Summary(true).Accounting; a.Lost != 0 || a.Received != 3 || a.Unconfirmed != 1 {
		t.Fatalf("accounting %+v", a)
	}
}

// Receipts signals a distinct message recorded, never a duplicate or a
// foreign body, and holds one pending signal at most.
func TestReceipts(t *testing.T) {
	t0 := time.Now()
	st := New(Options{RunID: 1, Groups: []string{"g"}, Start: t0})
	bodies := sendBatch(st.Producer(0), 4, t0, make([]error, 4))
	c := st.Consumer("g")
	rc := st.Receipts()
	if st.Receipts() != rc {
		t.Fatal("a second call returned another channel")
	}
	pending := func() bool {
		select {
		case <-rc:
			return true
		default:
			return false
		}
	}
	steps := []struct {
		name string
		body []byte
		want bool
	}{
		{"first", bodies[0], true},
		{"duplicate", bodies[0], false},
		{"foreign", envelope.New(64, envelope.Header{RunID: 2}), false},
		{"second", bodies[1], true},
	}
	for _, s := range steps {
		c.Record(s.body, t0)
		if got := pending(); got != s.want {
			t.Fatalf("%s: signal pending %v, want %v", s.name, got, s.want)
		}
	}
	// Two records, one pending signal: the consumer never blocks.
	c.Record(bodies[2], t0)
	c.Record(bodies[3], t0)
	if !pending() || pending() {
		t.Fatal("want exactly one pending signal after two records")
	}
}
