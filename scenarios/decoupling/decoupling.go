// Package decoupling is the application-decoupling scenario (order →
// inventory), scenarios.md §2.
//
// An order service takes orders open loop at Rate per second; the inventory
// service (its own database: stock and a deductions table keyed by order
// id; embedded SQLite, or PostgreSQL with database_url) deducts one unit per
// order, at most Capacity per second. For a window of each mode's measured
// load (default 30% to 60%) the inventory service is down:
//
//   - direct: the order service calls the inventory over HTTP on loopback
//     (a real net/http server inside the process). While it is down its
//     listener is closed, calls are refused and those orders fail.
//   - mq: the order service writes the order to its database, publishes
//     order.placed and answers once the broker confirmed. The inventory
//     consumer is killed at the window's start (its work is abandoned and
//     its subscription closed, so unacked messages go back to the broker)
//     and a new one subscribes at the window's end; the backlog grows, then
//     drains. Deductions are idempotent by order id, so a redelivered order
//     is counted as a duplicate and never deducted twice.
//
// Backlog is the number of accepted (confirmed) orders not yet deducted,
// sampled every 100 ms; the stick's timeline carries the broker-side view
// (confirmed − received) and, when the driver reads queue depth, a depth
// series is added. Drain time runs from the end of the window until the
// backlog is back to its level before the outage, and is compared with
// backlog / (Capacity − Rate).
package decoupling

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// The modes, in the order they run.
const (
	Direct = "direct"
	MQ     = "mq"
)

// Group is the inventory service's consumer group.
const Group = "inventory"

// kindOrderPlaced marks an order.placed body (the byte after the envelope);
// the order id follows as 8 bytes big endian.
const kindOrderPlaced byte = 2

const minSize = svc.PayloadOffset + 8

// phaseGap separates the modes.
const phaseGap = time.Second

// Config of the decoupling scenario. Common fields used: Rate (orders per
// second, open loop, > 0), Duration (total measured load, split evenly over
// the modes), Warmup (per mode), Drain (bound on the wait for the backlog
// after the mq load), Size (order.placed body), Producers (shared by the
// order service's request goroutines), Consumers (inventory consumers),
// Partitions, Profile.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Modes to run, in this order; default direct, mq.
	Modes []string `yaml:"modes" json:"modes"`
	// OutageStart and OutageEnd delimit the inventory outage as fractions
	// of each mode's measured load window (default 0.3 and 0.6).
	OutageStart float64 `yaml:"outage_start" json:"outage_start"`
	OutageEnd   float64 `yaml:"outage_end" json:"outage_end"`
	// Capacity is how many orders per second the inventory service
	// deducts at most (both modes). It must exceed Rate, or the mq backlog
	// never drains; 0 means unlimited.
	Capacity float64 `yaml:"inventory_capacity" json:"inventory_capacity"`
	// InitialStock is the stock each mode's inventory starts with.
	InitialStock int64 `yaml:"initial_stock" json:"initial_stock"`
	// HTTPTimeout bounds one direct call to the inventory.
	HTTPTimeout time.Duration `yaml:"http_timeout" json:"http_timeout"`
	// MaxInFlight bounds orders being processed at once.
	MaxInFlight int `yaml:"max_in_flight" json:"max_in_flight"`
	// Batch is the most deliveries the inventory consumer takes per
	// Receive (it deducts them in order, then acks them).
	Batch int `yaml:"batch" json:"batch"`
	// DatabaseURL says where the orders database and each mode's
	// inventory database live: empty for embedded SQLite files in the run's
	// work directory, or a postgres:// URL for one schema each, unique to
	// the run, in that PostgreSQL database (see package store).
	DatabaseURL string `yaml:"database_url" json:"database_url"`
	// ReadyTimeout bounds the wait, before the clock starts, until the
	// inventory group actually receives.
	ReadyTimeout time.Duration `yaml:"ready_timeout" json:"ready_timeout"`
}

// Validate checks every field and returns the first invalid one as a
// *scenarios.FieldError.
func (c *Config) Validate() error {
	if err := scenarios.ValidateShared(c); err != nil {
		return err
	}
	fe := func(field, msg string) error { return &scenarios.FieldError{Field: field, Msg: msg} }
	switch {
	case c.Rate <= 0:
		return fe("rate", "must be > 0: orders arrive open loop at this rate")
	case c.Size < minSize:
		return fe("size", fmt.Sprintf("must be at least %d bytes (envelope, kind and order id)", minSize))
	case len(c.Modes) == 0:
		return fe("modes", "must list at least one of direct, mq")
	case math.IsNaN(c.OutageStart) || c.OutageStart < 0 || c.OutageStart >= 1:
		return fe("outage_start", "must be a fraction in [0, 1)")
	case math.IsNaN(c.OutageEnd) || c.OutageEnd <= c.OutageStart || c.OutageEnd > 1:
		return fe("outage_end", "must be a fraction in (outage_start, 1]")
	case math.IsNaN(c.Capacity) || c.Capacity < 0:
		return fe("inventory_capacity", "must be ≥ 0 (0 = unlimited)")
	case c.Capacity > 0 && c.Capacity <= c.Rate:
		return fe("inventory_capacity", fmt.Sprintf("must exceed rate (%g/s), or the backlog never drains", c.Rate))
	case c.InitialStock <= 0:
		return fe("initial_stock", "must be > 0")
	case c.HTTPTimeout <= 0 || c.HTTPTimeout > time.Minute:
		return fe("http_timeout", "must be between 0 (exclusive) and 1m")
	case c.MaxInFlight < 1 || c.MaxInFlight > 100000:
		return fe("max_in_flight", "must be between 1 and 100000")
	case c.Batch < 1 || c.Batch > 10000:
		return fe("batch", "must be between 1 and 10000")
	case c.ReadyTimeout <= 0:
		return fe("ready_timeout", "must be > 0")
	}
	seen := map[string]bool{}
	for _, m := range c.Modes {
		if m != Direct && m != MQ {
			return fe("modes", fmt.Sprintf("unknown mode %q (valid: direct, mq)", m))
		}
		if seen[m] {
			return fe("modes", fmt.Sprintf("mode %q listed twice", m))
		}
		seen[m] = true
	}
	if c.Duration/time.Duration(len(c.Modes)) < 2*time.Second {
		return fe("duration", "must give each mode at least 2s")
	}
	if err := store.CheckURL(c.DatabaseURL); err != nil {
		return fe("database_url", err.Error())
	}
	return nil
}

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "decoupling" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "order → inventory with an inventory outage: direct HTTP call fails, message queue backlog grows and drains, stock stays consistent"
}

// DefaultConfig implements scenarios.Scenario.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 100, Duration: 60 * time.Second, Warmup: 3 * time.Second, Drain: 60 * time.Second,
			Size: 128, Producers: 32, Consumers: 1, Partitions: 1,
		},
		Modes:       []string{Direct, MQ},
		OutageStart: 0.3, OutageEnd: 0.6,
		Capacity: 250, InitialStock: 1_000_000,
		HTTPTimeout: 2 * time.Second, MaxInFlight: 2000, Batch: 32, ReadyTimeout: 60 * time.Second,
	}
	if quick {
		c.Duration, c.Warmup, c.Drain = 16*time.Second, time.Second, 30*time.Second
	}
	return c
}

// mode is one mode's plan and measures.
type mode struct {
	name          string
	start         time.Time // first intended order
	measuredStart time.Time // warm-up end
	end           time.Time // schedule end
	downAt, upAt  time.Time // planned outage window

	inv *inventory

	response, failedResponse *svc.Hist
	placed, ok, failed       atomic.Int64
	measured                 atomic.Int64
	okSeries, failSeries     *svc.Series

	acceptedMu sync.Mutex
	accepted   []int64 // order ids answered OK
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("decoupling: config is %T, want *decoupling.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("decoupling: %w", err)
	}
	r := &run{c: c, env: env}
	return r.run(ctx)
}

type run struct {
	c   *Config
	env scenarios.Env

	dbs      *store.Opener
	orders   *store.DB
	orderSeq atomic.Int64
	notes    []string

	// direct
	httpInv *httpInventory
	client  *http.Client

	// mq
	dest     driver.Destination
	pool     *svc.Pool
	st       *probe.Stick
	mqMode   *mode
	consMu   sync.Mutex
	running  []*liveConsumer
	cwg      sync.WaitGroup
	recvCtx  context.Context
	consErrs []error

	e2eBefore, e2eDuring, e2eAfter *svc.Hist
	deductSeries                   *svc.Series
	firstDeductAfterUp             atomic.Int64 // ns
	outages                        [][2]time.Time
	outageMu                       sync.Mutex
}

type liveConsumer struct {
	c    driver.Consumer
	kill context.CancelFunc
}

func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *run) run(ctx context.Context) (*result.Result, error) {
	c, env := r.c, r.env
	env.Report("setup", 0)
	var err error
	if r.dbs, err = store.NewOpener(c.DatabaseURL, env.WorkDir, env.RunID); err != nil {
		return nil, fmt.Errorf("decoupling: database_url: %w", err)
	}
	r.orders, err = r.dbs.Open(ctx, "decoupling-orders.db", `CREATE TABLE IF NOT EXISTS orders (
		id INTEGER PRIMARY KEY,
		mode TEXT NOT NULL,
		status TEXT NOT NULL,
		created_ns INTEGER NOT NULL
	)`)
	if err != nil {
		return nil, fmt.Errorf("decoupling: orders database: %w", err)
	}
	defer r.orders.Close()
	r.e2eBefore, r.e2eDuring, r.e2eAfter = svc.NewHist(), svc.NewHist(), svc.NewHist()

	useMQ := slices.Contains(c.Modes, MQ)
	invs := map[string]*inventory{}
	for _, m := range c.Modes {
		inv, err := openInventory(ctx, r.dbs, "decoupling-inventory-"+m+".db", c.InitialStock, c.Capacity)
		if err != nil {
			return nil, fmt.Errorf("decoupling: %s inventory database: %w", m, err)
		}
		defer inv.db.Close()
		invs[m] = inv
	}
	if inv := invs[Direct]; inv != nil {
		r.httpInv = &httpInventory{inv: inv}
		if err := r.httpInv.Start(); err != nil {
			return nil, fmt.Errorf("decoupling: %w", err)
		}
		defer r.httpInv.Stop()
		tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
		defer tr.CloseIdleConnections()
		r.client = &http.Client{Timeout: c.HTTPTimeout, Transport: tr}
	}

	recvCtx, stopRecv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRecv()
	r.recvCtx = recvCtx
	ready := &svc.Ready{}
	groups := []string{Group}
	if useMQ {
		r.dest = driver.Destination{Name: env.Prefix + "-order.placed", Groups: groups, Partitions: c.Partitions}
		env.Report("provision", 0)
		cleanup, err := env.Driver.Provision(ctx, r.dest)
		if err != nil {
			return nil, fmt.Errorf("decoupling: provision %s: %w", r.dest.Name, err)
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := cleanup(cctx); err != nil {
				env.Log.Warn("cleanup failed", "destination", r.dest.Name, "err", err)
			}
		}()
		defer r.killConsumers()
		r.pool, err = svc.OpenPool(ctx, env.Driver, r.dest, c.Producers)
		if err != nil {
			return nil, fmt.Errorf("decoupling: %w", err)
		}
		defer r.pool.Close()
		// Readiness: consume pings only, until the group receives.
		env.Report("ready", 0)
		var cons []driver.Consumer
		for range c.Consumers {
			cn, err := env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: Group, Prefetch: c.Batch})
			if err != nil {
				for _, x := range cons {
					x.Close()
				}
				return nil, fmt.Errorf("decoupling: inventory consumer: %w", err)
			}
			cons = append(cons, cn)
		}
		pingCtx, stopPing := context.WithCancel(recvCtx)
		var pwg sync.WaitGroup
		for _, cn := range cons {
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				_ = svc.Consume(pingCtx, ctx, cn, nil, svc.ConsumeOptions{Group: Group, Batch: c.Batch, Ready: ready}, nil)
			}()
		}
		err = svc.WaitReady(ctx, r.pool, env.RunID, c.Size, ready, groups, c.ReadyTimeout)
		stopPing()
		pwg.Wait()
		if err != nil {
			for _, x := range cons {
				x.Close()
			}
			if ctx.Err() != nil {
				res := &result.Result{Config: c}
				res.Verdict = result.Verdict{Pass: true}
				return res, nil
			}
			return nil, fmt.Errorf("decoupling: %w", err)
		}
		// The consumers that proved the group receives become the service.
		r.consMu.Lock()
		for _, cn := range cons {
			r.running = append(r.running, &liveConsumer{c: cn})
		}
		r.consMu.Unlock()
	}

	// Plan the modes on one clock.
	per := c.Duration / time.Duration(len(c.Modes))
	start := time.Now().Add(100 * time.Millisecond)
	modes := make([]*mode, len(c.Modes))
	var total time.Duration
	for i, name := range c.Modes {
		ms := start.Add(time.Duration(i) * (c.Warmup + per + phaseGap))
		m := &mode{name: name, start: ms, measuredStart: ms.Add(c.Warmup), end: ms.Add(c.Warmup + per),
			inv: invs[name], response: svc.NewHist(), failedResponse: svc.NewHist()}
		m.downAt = m.measuredStart.Add(time.Duration(c.OutageStart * float64(per)))
		m.upAt = m.measuredStart.Add(time.Duration(c.OutageEnd * float64(per)))
		modes[i] = m
		total = m.end.Sub(start)
		if name == MQ {
			r.mqMode = m
		}
	}
	seconds := int((total+c.Drain)/time.Second) + 60
	for _, m := range modes {
		m.okSeries, m.failSeries = svc.NewSeries(start, seconds), svc.NewSeries(start, seconds)
	}
	r.deductSeries = svc.NewSeries(start, seconds)
	backlogSeries, depthSeries := svc.NewSeries(start, seconds), svc.NewSeries(start, seconds)
	stickWarm := total
	if r.mqMode != nil {
		stickWarm = r.mqMode.measuredStart.Sub(start)
	}
	r.st = probe.New(probe.Options{RunID: env.RunID, Groups: groups, Start: start, Warmup: stickWarm, Seconds: seconds})
	if useMQ {
		r.pool.Bind(r.st)
		r.consMu.Lock()
		for _, lc := range r.running {
			r.startConsumer(ctx, lc)
		}
		r.consMu.Unlock()
	}

	// Samplers: backlog (accepted − deducted) and, when readable, depth.
	var samp backlogSampler
	sampDone := make(chan struct{})
	var swg sync.WaitGroup
	if r.mqMode != nil {
		dr, _ := env.Driver.(driver.DepthReader)
		if !env.Driver.Info().Capabilities.Depth {
			dr = nil
		}
		swg.Add(1)
		go func() {
			defer swg.Done()
			r.sample(ctx, &samp, dr, backlogSeries, depthSeries, sampDone)
		}()
	}

	progressDone := make(chan struct{})
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
				now := time.Now()
				phase := modes[len(modes)-1].name
				for _, m := range modes {
					if now.Before(m.end.Add(phaseGap)) {
						phase = m.name
						break
					}
				}
				env.Report(phase, min(1, float64(now.Sub(start))/float64(total)))
			}
		}
	}()
	for _, m := range modes {
		if ctx.Err() != nil {
			break
		}
		if late := time.Since(m.start); late > 100*time.Millisecond {
			r.note("mode %s started %s late (the previous mode overran); its first orders were dispatched late and their wait counts in their response time", m.name, late.Round(time.Millisecond))
		} else if err := svc.Sleep(ctx, -late); err != nil {
			break
		}
		outageDone := make(chan struct{})
		go func() {
			defer close(outageDone)
			r.outage(ctx, m)
		}()
		svc.OpenLoop(ctx, c.Rate, m.start, m.end, c.MaxInFlight, func(intended time.Time) { r.order(ctx, m, intended) })
		<-outageDone
	}
	close(progressDone)

	drained := true
	if r.mqMode != nil && ctx.Err() == nil {
		env.Report("drain", 1)
		drained = r.drain(ctx)
	}
	stopRecv()
	r.consMu.Lock()
	live := slices.Clone(r.running)
	r.consMu.Unlock()
	if !waitTimeout(&r.cwg, 30*time.Second) {
		for _, lc := range live {
			lc.c.Close()
		}
		if !waitTimeout(&r.cwg, 10*time.Second) {
			r.note("an inventory consumer goroutine did not stop within 40s")
		}
	}
	close(sampDone)
	swg.Wait()
	complete := ctx.Err() == nil
	return r.result(ctx, modes, &samp, backlogSeries, depthSeries, complete, drained, start, total), nil
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// startConsumer runs the consume loop of lc. consMu must be held.
func (r *run) startConsumer(ctx context.Context, lc *liveConsumer) {
	work, kill := context.WithCancel(ctx)
	lc.kill = kill
	pr := r.st.Consumer(Group)
	r.cwg.Add(1)
	go func() {
		defer r.cwg.Done()
		err := svc.Consume(r.recvCtx, work, lc.c, pr, svc.ConsumeOptions{Group: Group, Batch: r.c.Batch, Parallel: 1}, r.handle)
		if err != nil && work.Err() == nil {
			r.consMu.Lock()
			r.consErrs = append(r.consErrs, err)
			r.consMu.Unlock()
		}
	}()
}

// killConsumers abandons the inventory consumers' work and closes their
// subscriptions, as if the process died.
func (r *run) killConsumers() {
	r.consMu.Lock()
	live := r.running
	r.running = nil
	r.consMu.Unlock()
	for _, lc := range live {
		if lc.kill != nil {
			lc.kill()
		}
		lc.c.Close()
	}
}

// outage takes mode m's inventory down at m.downAt and back at m.upAt.
func (r *run) outage(ctx context.Context, m *mode) {
	if svc.Sleep(ctx, time.Until(m.downAt)) != nil {
		return
	}
	down := time.Now()
	switch m.name {
	case Direct:
		r.httpInv.Stop()
	case MQ:
		r.killConsumers()
	}
	r.env.Log.Info("inventory down", "mode", m.name)
	err := svc.Sleep(ctx, time.Until(m.upAt))
	up := time.Now()
	r.outageMu.Lock()
	r.outages = append(r.outages, [2]time.Time{down, up})
	r.outageMu.Unlock()
	if err != nil {
		return
	}
	switch m.name {
	case Direct:
		if err := r.httpInv.Start(); err != nil {
			r.note("inventory HTTP service did not come back: %v", err)
		}
	case MQ:
		r.recoverConsumers(ctx, m)
	}
	r.env.Log.Info("inventory up", "mode", m.name)
}

// recoverConsumers subscribes new inventory consumers, retrying every 500 ms
// until the mode's end plus the drain bound.
func (r *run) recoverConsumers(ctx context.Context, m *mode) {
	deadline := m.end.Add(r.c.Drain)
	for n := 0; n < r.c.Consumers; {
		cctx, cancel := context.WithDeadline(ctx, deadline)
		cn, err := r.env.Driver.NewConsumer(cctx, r.dest, driver.ConsumerOptions{Group: Group, Prefetch: r.c.Batch})
		cancel()
		if err != nil {
			if ctx.Err() != nil || time.Now().After(deadline) {
				r.note("inventory consumer could not resubscribe: %v", err)
				return
			}
			if svc.Sleep(ctx, 500*time.Millisecond) != nil {
				return
			}
			continue
		}
		lc := &liveConsumer{c: cn}
		r.consMu.Lock()
		r.running = append(r.running, lc)
		r.startConsumer(ctx, lc)
		r.consMu.Unlock()
		n++
	}
}

// order is one order of mode m, intended at intended.
func (r *run) order(ctx context.Context, m *mode, intended time.Time) {
	id := r.orderSeq.Add(1)
	m.placed.Add(1)
	measured := !intended.Before(m.measuredStart)
	var err error
	switch m.name {
	case Direct:
		err = r.httpInv.call(ctx, r.client, id)
		status := "accepted"
		if err != nil {
			status = "failed"
		}
		if _, derr := r.orders.ExecContext(ctx, `INSERT INTO orders (id, mode, status, created_ns) VALUES (?, ?, ?, ?)`, id, m.name, status, time.Now().UnixNano()); derr != nil && err == nil {
			err = fmt.Errorf("orders database: %w", derr)
		}
	case MQ:
		if _, err = r.orders.ExecContext(ctx, `INSERT INTO orders (id, mode, status, created_ns) VALUES (?, ?, 'placed', ?)`, id, m.name, time.Now().UnixNano()); err != nil {
			err = fmt.Errorf("orders database: %w", err)
			break
		}
		body := make([]byte, r.c.Size)
		for i := minSize; i < len(body); i++ {
			body[i] = byte('a' + i%26)
		}
		body[svc.KindOffset] = kindOrderPlaced
		binary.BigEndian.PutUint64(body[svc.PayloadOffset:], uint64(id))
		if err = r.pool.Publish(ctx, body, intended); err != nil {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = r.orders.ExecContext(uctx, `UPDATE orders SET status = 'failed' WHERE id = ?`, id)
			cancel()
		}
	}
	now := time.Now()
	if ctx.Err() != nil && err != nil {
		m.placed.Add(-1) // interrupted, not failed
		return
	}
	if err != nil {
		m.failed.Add(1)
		m.failSeries.Add(now, 1)
		if measured {
			m.failedResponse.Record(now.Sub(intended))
		}
		return
	}
	m.ok.Add(1)
	m.okSeries.Add(now, 1)
	m.acceptedMu.Lock()
	m.accepted = append(m.accepted, id)
	m.acceptedMu.Unlock()
	if measured {
		m.measured.Add(1)
		m.response.Record(now.Sub(intended))
	}
}

// handle is the mq inventory service: deduct the order once.
func (r *run) handle(ctx context.Context, d *driver.Delivery, h envelope.Header, _ probe.Kind) error {
	if svc.Kind(d.Body) != kindOrderPlaced || len(d.Body) < minSize {
		return nil
	}
	m := r.mqMode
	order := int64(binary.BigEndian.Uint64(d.Body[svc.PayloadOffset:]))
	applied, err := m.inv.deduct(ctx, order)
	if err != nil {
		return err
	}
	if !applied {
		return nil
	}
	now := time.Now()
	r.deductSeries.Add(now, 1)
	if !now.Before(m.upAt) {
		r.firstDeductAfterUp.CompareAndSwap(0, now.UnixNano())
	}
	if h.IntendNs < m.measuredStart.UnixNano() {
		return nil
	}
	e2e := time.Duration(now.UnixNano() - h.IntendNs)
	switch {
	case h.IntendNs < m.downAt.UnixNano():
		r.e2eBefore.Record(e2e)
	case h.IntendNs < m.upAt.UnixNano():
		r.e2eDuring.Record(e2e)
	default:
		r.e2eAfter.Record(e2e)
	}
	return nil
}

// backlogSampler holds what the sampler measured.
type backlogSampler struct {
	mu              sync.Mutex
	peak            int64
	baseline        int64 // max backlog in the measured window before the outage
	atRecovery      int64
	recoverySampled bool
	drainedAt       time.Time
	depthPeak       int64
	depthLast       int64 // last reading, taken after the drain
	depthRead       bool
	depthErr        error
}

func (r *run) backlog() int64 {
	m := r.mqMode
	return m.ok.Load() - m.inv.applied.Load()
}

// sample reads the backlog (and depth) every 100 ms, and once more when
// done is closed.
func (r *run) sample(ctx context.Context, s *backlogSampler, dr driver.DepthReader, backlog, depth *svc.Series, done <-chan struct{}) {
	m := r.mqMode
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for last := false; !last; {
		select {
		case <-done:
			last = true // one final sample, after the drain
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		b := max(r.backlog(), 0)
		backlog.Max(now, b)
		s.mu.Lock()
		s.peak = max(s.peak, b)
		switch {
		case now.Before(m.measuredStart):
		case now.Before(m.downAt):
			s.baseline = max(s.baseline, b)
		case now.Before(m.upAt):
		default:
			if !s.recoverySampled {
				s.recoverySampled = true
				s.atRecovery = b
			}
			if s.drainedAt.IsZero() && b <= s.baseline {
				s.drainedAt = now
			}
		}
		s.mu.Unlock()
		if dr != nil {
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			d, err := dr.Depth(dctx, r.dest, Group)
			cancel()
			s.mu.Lock()
			if err != nil {
				s.depthErr = err
			} else {
				s.depthRead = true
				s.depthPeak = max(s.depthPeak, d)
				s.depthLast = d
				depth.Max(now, d)
			}
			s.mu.Unlock()
		}
	}
}

// drain waits until every accepted mq order is deducted and the stick saw
// every confirmed message, or Drain passes.
func (r *run) drain(ctx context.Context) bool {
	deadline := time.Now().Add(r.c.Drain)
	for {
		if r.backlog() <= 0 && r.st.Snapshot().Remaining() <= 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		if svc.Sleep(ctx, 20*time.Millisecond) != nil {
			return false
		}
	}
}

func (r *run) result(ctx context.Context, modes []*mode, s *backlogSampler, backlogSeries, depthSeries *svc.Series, complete, drained bool, start time.Time, total time.Duration) *result.Result {
	c := r.c
	sum := r.st.Summary(complete && drained)
	res := &result.Result{
		Config:     c,
		Latency:    sum.Latency,
		Throughput: sum.Throughput,
		Accounting: sum.Accounting,
	}
	if res.Latency == nil {
		res.Latency = result.Latencies{}
	}
	runSeconds := int((time.Since(start) + time.Second - 1) / time.Second)
	res.Timeline = svc.ExtendTimeline(sum.Timeline, max(runSeconds, int((total+time.Second-1)/time.Second)))
	secs := len(res.Timeline)
	res.Series = map[string][]float64{}
	per := c.Duration / time.Duration(len(c.Modes))

	// inventory_up: 0 for a second that overlaps an outage.
	up := make([]float64, secs)
	for i := range up {
		up[i] = 1
		s0, s1 := start.Add(time.Duration(i)*time.Second), start.Add(time.Duration(i+1)*time.Second)
		r.outageMu.Lock()
		for _, o := range r.outages {
			if o[0].Before(s1) && o[1].After(s0) {
				up[i] = 0
			}
		}
		r.outageMu.Unlock()
	}
	res.Series["inventory_up"] = up

	var orders int64
	for _, m := range modes {
		orders += m.placed.Load()
		l, lf := m.response.Summary(), m.failedResponse.Summary()
		res.Latency["response_"+m.name] = l
		res.Latency["response_failed_"+m.name] = lf
		res.SetMetric("orders_"+m.name, float64(m.placed.Load()), "count")
		res.SetMetric("orders_failed_"+m.name, float64(m.failed.Load()), "count")
		if p := m.placed.Load(); p > 0 {
			res.SetMetric("success_rate_"+m.name, 100*float64(m.ok.Load())/float64(p), "%")
		}
		svc.SetPercentile(res, "response_p50_ms_"+m.name, l, "p50")
		svc.SetPercentile(res, "response_p99_ms_"+m.name, l, "p99")
		svc.SetRate(res, "accepted_per_s_"+m.name, m.measured.Load(), m.measuredStart, m.end)
		res.Series["orders_ok_"+m.name] = m.okSeries.Values(secs)
		res.Series["orders_failed_"+m.name] = m.failSeries.Values(secs)
	}
	res.SetMetric("orders", float64(orders), "count")
	res.SetMetric("outage_seconds", (time.Duration(c.OutageEnd*float64(per)) - time.Duration(c.OutageStart*float64(per))).Seconds(), "s")

	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	consistent := func(m *mode) (ok bool, stock int64, missing int, err error) {
		stock, deducted, err := m.inv.final(qctx)
		if err != nil {
			return false, 0, 0, err
		}
		m.acceptedMu.Lock()
		defer m.acceptedMu.Unlock()
		for _, id := range m.accepted {
			if !deducted[id] {
				missing++
			}
		}
		ok = stock == c.InitialStock-int64(len(m.accepted)) && len(deducted) == len(m.accepted) && missing == 0
		return ok, stock, missing, nil
	}
	b01 := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	var direct *mode
	for _, m := range modes {
		if m.name == Direct {
			direct = m
		}
	}
	if direct != nil {
		ok, stock, _, err := consistent(direct)
		if err != nil {
			res.Notes = append(res.Notes, "direct inventory: "+err.Error())
		} else {
			res.SetMetric("stock_consistent_direct", b01(ok), "bool")
			res.SetMetric("final_stock_direct", float64(stock), "units")
			if !ok {
				res.Notes = append(res.Notes, fmt.Sprintf("direct: stock %d, expected %d from %d accepted orders: a call that failed at the caller (refused mid-request or timed out) was deducted anyway, the classic hazard of synchronous calls", stock, c.InitialStock-direct.ok.Load(), direct.ok.Load()))
			}
		}
	}

	res.Verdict = result.Verdict{Pass: true}
	m := r.mqMode
	if m == nil {
		res.Notes = append(res.Notes, r.notes...)
		return res
	}
	l := func(h *svc.Hist, name string) *result.Latency {
		x := h.Summary()
		res.Latency[name] = x
		return x
	}
	all := l(svc.Merge(r.e2eBefore, r.e2eDuring, r.e2eAfter), "order_to_deduct")
	before, during, after := l(r.e2eBefore, "order_to_deduct_before"), l(r.e2eDuring, "order_to_deduct_during"), l(r.e2eAfter, "order_to_deduct_after")
	svc.SetPercentile(res, "e2e_p50_ms", all, "p50")
	svc.SetPercentile(res, "e2e_p99_ms", all, "p99")
	svc.SetPercentile(res, "e2e_p99_ms_before", before, "p99")
	svc.SetPercentile(res, "e2e_p99_ms_during", during, "p99")
	svc.SetPercentile(res, "e2e_p99_ms_after", after, "p99")
	res.SetMetric("duplicates_delivered", float64(m.inv.dupes.Load()), "count")
	res.SetMetric("deducted_mq", float64(m.inv.applied.Load()), "count")
	res.Series["deducted_mq"] = r.deductSeries.Values(secs)
	res.Series["backlog_sampled"] = backlogSeries.Values(secs)

	s.mu.Lock()
	res.SetMetric("backlog_peak", float64(s.peak), "orders")
	if s.recoverySampled {
		res.SetMetric("backlog_at_recovery", float64(s.atRecovery), "orders")
	}
	var stickPeak int64
	for _, sec := range sum.Timeline {
		stickPeak = max(stickPeak, sec.Backlog)
	}
	res.SetMetric("backlog_peak_stick", float64(stickPeak), "messages")
	if s.depthRead {
		res.SetMetric("depth_peak", float64(s.depthPeak), "messages")
		res.Series["depth"] = depthSeries.Values(secs)
		if drained && s.depthLast > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("the broker still reported a queue depth of %d after every order was deducted: its depth lags consumption (for example consumer offsets persisted periodically), so depth_peak and the depth series are not reliable on this broker", s.depthLast))
		}
	} else if s.depthErr != nil {
		res.Notes = append(res.Notes, "queue depth could not be read: "+s.depthErr.Error())
	}
	if c.Capacity > 0 && s.recoverySampled {
		res.SetMetric("drain_expected_seconds", float64(s.atRecovery)/(c.Capacity-c.Rate), "s")
	}
	if first := r.firstDeductAfterUp.Load(); first != 0 {
		res.SetMetric("resume_seconds", time.Duration(first-m.upAt.UnixNano()).Seconds(), "s")
	}
	if !s.drainedAt.IsZero() {
		d := s.drainedAt.Sub(m.upAt)
		res.SetMetric("drain_seconds", d.Seconds(), "s")
		if d > 0 {
			// Orders deducted while draining = backlog at recovery plus
			// orders arriving meanwhile.
			res.SetMetric("drain_consume_rate", (float64(s.atRecovery)+c.Rate*d.Seconds())/d.Seconds(), "1/s")
		}
	} else if complete {
		res.Notes = append(res.Notes, "the backlog did not return to its pre-outage level before the load ended; drain_seconds not measured")
	}
	baseline := s.baseline
	s.mu.Unlock()
	res.Notes = append(res.Notes, fmt.Sprintf("drain_seconds runs from the end of the outage until the backlog (accepted orders not yet deducted, sampled every 100 ms) is back to its pre-outage level (%d); compare with drain_expected_seconds = backlog_at_recovery / (inventory_capacity − rate)", baseline))

	ok, stock, missing, err := consistent(m)
	if err != nil {
		res.Verdict.Check(false, "mq inventory: %v", err)
	} else {
		res.SetMetric("stock_consistent", b01(ok), "bool")
		res.SetMetric("final_stock_mq", float64(stock), "units")
	}
	res.SetMetric("orders_lost_mq", float64(missing), "count")
	res.Notes = append(res.Notes, r.notes...)
	r.consMu.Lock()
	for _, e := range r.consErrs {
		res.Notes = append(res.Notes, "inventory consumer stopped: "+e.Error())
	}
	r.consMu.Unlock()
	res.Notes = append(res.Notes, "databases: "+r.dbs.Describe())

	if !complete || err != nil {
		return res
	}
	a := sum.Accounting
	res.Verdict.Check(m.ok.Load() > 0, "mq: no order accepted")
	res.Verdict.Check(drained, "mq: backlog did not drain within %s: %d orders not deducted", c.Drain, r.backlog())
	// No order deducted twice: one deduction row per order by key, and the
	// stock moved exactly once per row.
	_, deducted, derr := m.inv.final(qctx)
	if derr == nil {
		res.Verdict.Check(stock == c.InitialStock-int64(len(deducted)), "mq: stock %d, but %d deduction rows: some order moved the stock twice", stock, len(deducted))
	}
	if r.env.Profile != driver.Unsafe {
		res.Verdict.Check(a.Lost == 0, "mq: %d confirmed order.placed messages lost", a.Lost)
		res.Verdict.Check(missing == 0, "mq: %d accepted orders never deducted", missing)
		res.Verdict.Check(ok, "mq: final stock %d, want initial %d − accepted %d = %d", stock, c.InitialStock, m.ok.Load(), c.InitialStock-m.ok.Load())
	}
	return res
}
