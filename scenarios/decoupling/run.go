package decoupling

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// mode is one mode's plan and measures.
type mode struct {
	name          string
	start         time.Time // first intended order
	measuredStart time.Time // warm-up end
	end           time.Time // schedule end
	downAt, upAt  time.Time // planned outage window

	inv *inventory

	response, failedResponse *svc.Hist
	stats                    orderStats
	okSeries, failSeries     *svc.Series

	acceptedMu sync.Mutex
	accepted   []int64 // order ids answered OK
}

// run is one run of the scenario: the order service (order), the
// inventory service (inventory.go) behind HTTP or the broker, its
// consumers' lifecycle and outage (consumers.go), the backlog sampler, and
// the plan of the modes.
type run struct {
	c       *Config
	env     scenarios.Env
	closers []func() // run in reverse order when the run ends

	dbs      *store.Opener
	orders   *store.DB
	invs     map[string]*inventory // per mode
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
	samp     *backlogSampler

	e2eBefore, e2eDuring, e2eAfter *svc.Hist
	deductSeries                   *svc.Series
	firstDeductAfterUp             atomic.Int64 // ns
	outages                        [][2]time.Time
	outageMu                       sync.Mutex

	// The plan, on one clock.
	start time.Time
	total time.Duration // from start to the last mode's end
	modes []*mode
}

type liveConsumer struct {
	c    driver.Consumer
	kill context.CancelFunc
}

func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// closeAll runs the closers, last registered first.
func (r *run) closeAll() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

func (r *run) run(ctx context.Context) (*result.Result, error) {
	c, env := r.c, r.env
	defer r.closeAll()
	env.Report("setup", 0)
	if err := r.openDatabases(ctx); err != nil {
		return nil, err
	}
	if err := r.startHTTP(); err != nil {
		return nil, err
	}
	recvCtx, stopRecv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRecv()
	r.recvCtx = recvCtx
	useMQ := slices.Contains(c.Modes, MQ)
	if useMQ {
		if err := r.openMQ(ctx); err != nil {
			return nil, err
		}
		// Readiness: consume pings only, until the group receives; the
		// consumers that proved it receives become the service.
		env.Report("ready", 0)
		cons := make([]driver.Consumer, len(r.running))
		for i, lc := range r.running {
			cons[i] = lc.c
		}
		err := svc.AwaitGroups(ctx, recvCtx, r.pool, cons, func(int) string { return Group }, svc.ReadyOptions{
			RunID: env.RunID, Size: c.Size, Batch: c.Batch, Groups: []string{Group}, Timeout: c.ReadyTimeout})
		if err != nil {
			if ctx.Err() != nil {
				return svc.Interrupted(c), nil
			}
			return nil, fmt.Errorf("decoupling: %w", err)
		}
	}
	r.plan()
	if useMQ {
		r.pool.Bind(r.st)
		r.consMu.Lock()
		for _, lc := range r.running {
			r.startConsumer(ctx, lc)
		}
		r.consMu.Unlock()
	}
	stopSampler := r.startSampler(ctx)
	r.runModes(ctx)

	drained := true
	if r.mqMode != nil && ctx.Err() == nil {
		env.Report("drain", 1)
		drained = r.drain(ctx)
	}
	stopRecv()
	r.consMu.Lock()
	live := slices.Clone(r.running)
	r.consMu.Unlock()
	if !svc.StopConsumers(&r.cwg, func() {
		for _, lc := range live {
			lc.c.Close()
		}
	}) {
		r.note("an inventory consumer goroutine did not stop within 40s")
	}
	stopSampler()
	complete := ctx.Err() == nil
	return r.result(ctx, complete, drained), nil
}

// openDatabases opens the order service's database and each mode's
// inventory.
func (r *run) openDatabases(ctx context.Context) error {
	c := r.c
	var err error
	if r.dbs, err = store.NewOpener(c.DatabaseURL, r.env.WorkDir, r.env.RunID); err != nil {
		return fmt.Errorf("decoupling: database_url: %w", err)
	}
	r.orders, err = r.dbs.Open(ctx, "decoupling-orders.db", `CREATE TABLE IF NOT EXISTS orders (
		id INTEGER PRIMARY KEY,
		mode TEXT NOT NULL,
		status TEXT NOT NULL,
		created_ns INTEGER NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("decoupling: orders database: %w", err)
	}
	r.closers = append(r.closers, func() { r.orders.Close() })
	r.e2eBefore, r.e2eDuring, r.e2eAfter = svc.NewHist(), svc.NewHist(), svc.NewHist()
	r.invs = map[string]*inventory{}
	for _, m := range c.Modes {
		inv, err := openInventory(ctx, r.dbs, "decoupling-inventory-"+m+".db", c.InitialStock, c.Capacity)
		if err != nil {
			return fmt.Errorf("decoupling: %s inventory database: %w", m, err)
		}
		r.closers = append(r.closers, func() { inv.db.Close() })
		r.invs[m] = inv
	}
	return nil
}

// startHTTP starts the direct mode's inventory HTTP service and its
// client, when the direct mode runs.
func (r *run) startHTTP() error {
	inv := r.invs[Direct]
	if inv == nil {
		return nil
	}
	r.httpInv = &httpInventory{inv: inv}
	if err := r.httpInv.Start(); err != nil {
		return fmt.Errorf("decoupling: %w", err)
	}
	r.closers = append(r.closers, r.httpInv.Stop)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
	r.closers = append(r.closers, tr.CloseIdleConnections)
	r.client = &http.Client{Timeout: r.c.HTTPTimeout, Transport: tr}
	return nil
}

// openMQ provisions order.placed and opens the producer pool and the
// inventory consumers (in r.running, not started yet). What it opened is
// closed by closeAll.
func (r *run) openMQ(ctx context.Context) error {
	c, env := r.c, r.env
	r.dest = driver.Destination{Name: env.Prefix + "-order.placed", Groups: []string{Group}, Partitions: c.Partitions}
	env.Report("provision", 0)
	cleanup, err := env.Driver.Provision(ctx, r.dest)
	if err != nil {
		return fmt.Errorf("decoupling: provision %s: %w", r.dest.Name, err)
	}
	r.closers = append(r.closers, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			env.Log.Warn("cleanup failed", "destination", r.dest.Name, "err", err)
		}
	}, r.killConsumers)
	if r.pool, err = svc.OpenPool(ctx, env.Driver, r.dest, c.Producers); err != nil {
		return fmt.Errorf("decoupling: %w", err)
	}
	r.closers = append(r.closers, r.pool.Close)
	for range c.Consumers {
		cn, err := env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: Group, Prefetch: c.Batch})
		if err != nil {
			return fmt.Errorf("decoupling: inventory consumer: %w", err)
		}
		r.consMu.Lock()
		r.running = append(r.running, &liveConsumer{c: cn})
		r.consMu.Unlock()
	}
	return nil
}

// plan lays the modes out on one clock and creates the stick and the
// per-second series.
func (r *run) plan() {
	c := r.c
	per := c.Duration / time.Duration(len(c.Modes))
	r.start = time.Now().Add(100 * time.Millisecond)
	r.modes = make([]*mode, len(c.Modes))
	for i, name := range c.Modes {
		ms := r.start.Add(time.Duration(i) * (c.Warmup + per + phaseGap))
		m := &mode{name: name, start: ms, measuredStart: ms.Add(c.Warmup), end: ms.Add(c.Warmup + per),
			inv: r.invs[name], response: svc.NewHist(), failedResponse: svc.NewHist()}
		m.downAt = m.measuredStart.Add(time.Duration(c.OutageStart * float64(per)))
		m.upAt = m.measuredStart.Add(time.Duration(c.OutageEnd * float64(per)))
		r.modes[i] = m
		r.total = m.end.Sub(r.start)
		if name == MQ {
			r.mqMode = m
		}
	}
	seconds := int((r.total+c.Drain)/time.Second) + 60
	for _, m := range r.modes {
		m.okSeries, m.failSeries = svc.NewSeries(r.start, seconds), svc.NewSeries(r.start, seconds)
	}
	r.deductSeries = svc.NewSeries(r.start, seconds)
	r.samp = &backlogSampler{backlog: svc.NewSeries(r.start, seconds), depth: svc.NewSeries(r.start, seconds)}
	stickWarm := r.total
	if r.mqMode != nil {
		stickWarm = r.mqMode.measuredStart.Sub(r.start)
	}
	r.st = probe.New(probe.Options{RunID: r.env.RunID, Groups: []string{Group}, Start: r.start, Warmup: stickWarm, Seconds: seconds})
}

// runModes runs the modes' open-loop orders one after the other, each
// with its outage, and records each mode's unsent orders.
func (r *run) runModes(ctx context.Context) {
	modes := make([]svc.Mode, len(r.modes))
	for i, m := range r.modes {
		modes[i] = svc.Mode{Name: m.name, Start: m.start, End: m.end, Unsent: &m.stats.unsent,
			Request: func(intended time.Time) { r.order(ctx, m, intended) },
			Beside:  func() { r.outage(ctx, m) }}
	}
	svc.RunModes(ctx, svc.Modes{Report: r.env.Report, Start: r.start, Total: r.total, Gap: phaseGap,
		Rate: r.c.Rate, MaxInFlight: r.c.MaxInFlight, Late: func(mode string, late time.Duration) {
			r.note("mode %s started %s late (the previous mode overran); its first orders were dispatched late and their wait counts in their response time", mode, late.Round(time.Millisecond))
		}}, modes)
}
