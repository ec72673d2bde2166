package svc

import (
	"sync"
	"time"
)

// BrokerSample is one reading of the broker's resources.
type BrokerSample struct {
	At        time.Time
	RSSMiB    float64 // valid when HasRSS
	DiskBytes int64   // valid when HasDisk
	HasRSS    bool
	HasDisk   bool
}

// BrokerSampler reads the broker's resident memory and disk use (the
// scenarios.Env BrokerRSS and BrokerDisk functions) at start, every period
// and at Stop. A nil function is never called; with both nil it records
// nothing. Safe for concurrent use.
type BrokerSampler struct {
	rss  func() (float64, bool)
	disk func() (int64, bool)

	mu      sync.Mutex
	samples []BrokerSample
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

// StartBrokerSampler starts sampling every period (≤ 0: one second).
func StartBrokerSampler(rss func() (float64, bool), disk func() (int64, bool), period time.Duration) *BrokerSampler {
	s := &BrokerSampler{rss: rss, disk: disk, done: make(chan struct{})}
	if rss == nil && disk == nil {
		return s
	}
	if period <= 0 {
		period = time.Second
	}
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *BrokerSampler) sample() {
	b := BrokerSample{At: time.Now()}
	if s.rss != nil {
		b.RSSMiB, b.HasRSS = s.rss()
	}
	if s.disk != nil {
		b.DiskBytes, b.HasDisk = s.disk()
	}
	if !b.HasRSS && !b.HasDisk {
		return
	}
	s.mu.Lock()
	s.samples = append(s.samples, b)
	s.mu.Unlock()
}

// Sample takes one reading now (say, at the end of a step).
func (s *BrokerSampler) Sample() {
	if s.rss != nil || s.disk != nil {
		s.sample()
	}
}

// Stop takes a last reading and stops sampling; it is idempotent.
func (s *BrokerSampler) Stop() {
	s.once.Do(func() {
		close(s.done)
		s.wg.Wait()
		s.Sample()
	})
}

// Peak returns the largest readings taken within [from, to]; ok flags say
// whether any reading of that kind was taken then.
func (s *BrokerSampler) Peak(from, to time.Time) (rssMiB float64, diskBytes int64, rssOK, diskOK bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.samples {
		if b.At.Before(from) || b.At.After(to) {
			continue
		}
		if b.HasRSS && (!rssOK || b.RSSMiB > rssMiB) {
			rssMiB, rssOK = b.RSSMiB, true
		}
		if b.HasDisk && (!diskOK || b.DiskBytes > diskBytes) {
			diskBytes, diskOK = b.DiskBytes, true
		}
	}
	return rssMiB, diskBytes, rssOK, diskOK
}

// Series returns n per-second values from start, the largest reading in
// each second, carrying the last reading forward into seconds without
// one (0 before the first): RSS in MiB and disk in MiB. A kind never read
// is nil.
func (s *BrokerSampler) Series(start time.Time, n int) (rssMiB, diskMiB []float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rssSet, diskSet := make([]bool, n), make([]bool, n)
	for _, b := range s.samples {
		i := min(max(int(b.At.Sub(start)/time.Second), 0), n-1)
		if i < 0 {
			break
		}
		if b.HasRSS {
			if rssMiB == nil {
				rssMiB = make([]float64, n)
			}
			if !rssSet[i] || b.RSSMiB > rssMiB[i] {
				rssMiB[i], rssSet[i] = b.RSSMiB, true
			}
		}
		if b.HasDisk {
			if diskMiB == nil {
				diskMiB = make([]float64, n)
			}
			v := float64(b.DiskBytes) / (1 << 20)
			if !diskSet[i] || v > diskMiB[i] {
				diskMiB[i], diskSet[i] = v, true
			}
		}
	}
	carry(rssMiB, rssSet)
	carry(diskMiB, diskSet)
	return rssMiB, diskMiB
}

// carry fills the unset slots of v with the last set value before them.
func carry(v []float64, set []bool) {
	last := 0.0
	for i := range v {
		if set[i] {
			last = v[i]
		} else {
			v[i] = last
		}
	}
}
