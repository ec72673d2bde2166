package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/memory"
	"github.com/mqbench/mqbench/compose/launch"
	"github.com/mqbench/mqbench/report/result"
)

// referenceBroker builds the in-process broker a scenario runs its own
// pipeline through to measure mqbench's ceiling (scenarios.Env.Reference).
// Its flow limit bounds the memory a closed-loop run can fill.
func referenceBroker() driver.Constructor {
	return memory.Constructor(memory.Options{FlowLimit: 64 << 20})
}

// costMeter samples broker processes' CPU time and resident memory from
// /proc while a run goes on.
type costMeter struct {
	pids     []int
	startCPU float64
	started  time.Time
	stopC    chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	peakRSS  float64
}

func startCostMeter(pids []int) *costMeter {
	m := &costMeter{pids: pids, stopC: make(chan struct{})}
	if len(pids) == 0 {
		return m
	}
	m.startCPU, m.started = cpuSeconds(pids), time.Now()
	m.sample()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.stopC:
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
	return m
}

func (m *costMeter) sample() {
	rss := rssMiB(m.pids)
	m.mu.Lock()
	m.peakRSS = max(m.peakRSS, rss)
	m.mu.Unlock()
}

// cpu returns the CPU seconds the broker processes have used so far
// (scenarios.Env.BrokerCPU); ok is false when no pid is measured. Safe for
// concurrent use.
func (m *costMeter) cpu() (seconds float64, ok bool) {
	if len(m.pids) == 0 {
		return 0, false
	}
	return cpuSeconds(m.pids), true
}

// stop ends sampling and returns the cost, nil when no pid was given.
func (m *costMeter) stop() *result.Cost {
	if len(m.pids) == 0 {
		return nil
	}
	close(m.stopC)
	m.wg.Wait()
	m.sample()
	return &result.Cost{CPUSeconds: cpuSeconds(m.pids) - m.startCPU, PeakRSSMiB: m.peakRSS, PIDs: m.pids, Seconds: time.Since(m.started).Seconds()}
}

// cpuSeconds sums user+system CPU time of pids from /proc/PID/stat.
func cpuSeconds(pids []int) float64 {
	const hz = 100 // USER_HZ on Linux
	var total float64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		// After ')' : state(0) ... utime is field 14 overall → index 11 here.
		if len(f) > 12 {
			u, _ := strconv.ParseFloat(f[11], 64)
			sy, _ := strconv.ParseFloat(f[12], 64)
			total += (u + sy) / hz
		}
	}
	return total
}

// rssMiB sums VmRSS of pids.
func rssMiB(pids []int) float64 {
	var total float64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					kb, _ := strconv.ParseFloat(f[1], 64)
					total += kb / 1024
				}
			}
		}
	}
	return total
}

// brokerRSS reads the broker processes' resident memory for
// scenarios.Env.BrokerRSS; nil when no broker pid is known.
func brokerRSS(pids []int) func() (float64, bool) {
	if len(pids) == 0 {
		return nil
	}
	return func() (float64, bool) { v := rssMiB(pids); return v, v > 0 }
}

// brokerDisk reads the size of a natively launched broker's data directory
// for scenarios.Env.BrokerDisk; nil when mqbench did not start the broker
// (native is false) or has no launcher.
func brokerDisk(l *launch.Launcher, name string, native bool) func() (int64, bool) {
	if l == nil || !native {
		return nil
	}
	dir, ok := l.DataDir(name)
	if !ok {
		return nil
	}
	return func() (int64, bool) { return launch.DirSize(dir) }
}
