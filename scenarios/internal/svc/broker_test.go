package svc

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestBrokerSampler: readings land in the right seconds, peaks are over the
// asked window, a function that cannot read records nothing.
func TestBrokerSampler(t *testing.T) {
	var n atomic.Int64
	rss := func() (float64, bool) { return float64(10 * n.Add(1)), true }
	disk := func() (int64, bool) { return 0, false }
	start := time.Now()
	s := StartBrokerSampler(rss, disk, time.Hour) // only explicit samples
	s.Sample()
	s.Stop()
	s.Stop()
	// start, Sample, Stop: three readings 10, 20, 30
	peak, _, rssOK, diskOK := s.Peak(start, time.Now())
	if !rssOK || diskOK || peak != 30 {
		t.Fatalf("peak %g (rss %v disk %v), want 30 true false", peak, rssOK, diskOK)
	}
	if _, _, ok, _ := s.Peak(time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)); ok {
		t.Fatal("a peak in a window without readings")
	}
	r, d := s.Series(start, 3)
	if d != nil || len(r) != 3 || r[0] != 30 || r[2] != 30 {
		t.Fatalf("series rss %v disk %v, want [30 30 30] and nil", r, d)
	}
	none := StartBrokerSampler(nil, nil, 0)
	none.Stop()
	if r, d := none.Series(start, 2); r != nil || d != nil {
		t.Fatal("a sampler without functions produced series")
	}
}
