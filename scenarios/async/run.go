package async

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// mode holds one mode's plan and measures.
type mode struct {
	name          string
	start         time.Time // first intended request
	measuredStart time.Time // warm-up end
	end           time.Time // schedule end
	response      *svc.Hist
	stats         modeStats
	series        *svc.Series
}

// run is one run of the scenario: the user service (request), the
// notification services (notifier) and the plan of the modes.
type run struct {
	c       *Config
	env     scenarios.Env
	closers []func() // run in reverse order when the run ends

	dbs     *store.Opener
	users   *store.DB
	dbWrite *svc.Hist
	userSeq atomic.Int64

	dest       driver.Destination
	pool       *svc.Pool
	consumers  []driver.Consumer
	groups     []string // the consumer groups of the mq mode
	notifiers  map[string]*notifier
	confirmMu  sync.Mutex
	confirmed  []int64 // user ids whose user.registered was confirmed
	notes      []string
	consErrsMu sync.Mutex
	consErrs   []error

	// The plan, on one clock.
	start  time.Time
	total  time.Duration // from start to the last mode's end
	modes  []*mode
	mqMode *mode // nil without the mq mode
	st     *probe.Stick
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

// groupOf returns the group of consumer i.
func (r *run) groupOf(i int) string { return r.groups[i/r.c.Consumers] }

func (r *run) run(ctx context.Context) (*result.Result, error) {
	c, env := r.c, r.env
	defer r.closeAll()
	env.Report("setup", 0)
	if err := r.openUsers(ctx); err != nil {
		return nil, err
	}
	recvCtx, stopRecv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRecv()
	useMQ := slices.Contains(c.Modes, MQ)
	r.groups = []string{GroupEmail, GroupSMS}
	r.notifiers = map[string]*notifier{}
	if useMQ {
		if err := r.openMQ(ctx); err != nil {
			return nil, err
		}
		env.Report("ready", 0)
		err := svc.AwaitGroups(ctx, recvCtx, r.pool, r.consumers, r.groupOf, svc.ReadyOptions{
			RunID: env.RunID, Size: c.Size, Batch: c.Batch, Groups: r.groups, Timeout: c.ReadyTimeout})
		if err != nil {
			if ctx.Err() != nil {
				return svc.Interrupted(c), nil
			}
			return nil, fmt.Errorf("async: %w", err)
		}
	}
	r.plan()
	var cwg sync.WaitGroup
	if useMQ {
		r.pool.Bind(r.st)
		r.startConsumers(ctx, recvCtx, &cwg)
	}
	r.runModes(ctx)

	drained := true
	if useMQ {
		env.Report("drain", 1)
		drained = load.Drain(ctx, r.st, c.Drain, c.Drain)
	}
	stopRecv()
	if !svc.StopConsumers(&cwg, r.closeConsumers) {
		r.note("a consumer goroutine did not stop within 40s")
	}
	complete := ctx.Err() == nil
	return r.result(ctx, complete, drained), nil
}

// openUsers opens the database opener and the user service's database.
func (r *run) openUsers(ctx context.Context) error {
	var err error
	if r.dbs, err = store.NewOpener(r.c.DatabaseURL, r.env.WorkDir, r.env.RunID); err != nil {
		return fmt.Errorf("async: database_url: %w", err)
	}
	r.users, err = r.dbs.Open(ctx, "async-users.db", `DROP TABLE IF EXISTS users;
	CREATE TABLE users (
		id INTEGER PRIMARY KEY,
		mode TEXT NOT NULL,
		email TEXT NOT NULL,
		phone TEXT NOT NULL,
		created_ns INTEGER NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("async: users database: %w", err)
	}
	r.closers = append(r.closers, func() { r.users.Close() })
	r.dbWrite = svc.NewHist()
	return nil
}

// openMQ opens the notification services' databases, provisions the
// destination, and opens the consumers of both groups and the producer
// pool. What it opened is closed by closeAll.
func (r *run) openMQ(ctx context.Context) error {
	c, env := r.c, r.env
	for _, g := range r.groups {
		cost := c.EmailTime
		if g == GroupSMS {
			cost = c.SMSTime
		}
		db, err := r.dbs.Open(ctx, "async-"+g+".db", notifierSchema)
		if err != nil {
			return fmt.Errorf("async: %s service database: %w", g, err)
		}
		r.closers = append(r.closers, func() { db.Close() })
		n := &notifier{group: g, cost: cost, db: db, notify: svc.NewHist()}
		n.stats.sends = map[int64]int{}
		r.notifiers[g] = n
	}
	r.dest = driver.Destination{Name: env.Prefix + "-user.registered", Groups: r.groups, Partitions: c.Partitions}
	env.Report("provision", 0)
	cleanup, err := env.Driver.Provision(ctx, r.dest)
	if err != nil {
		return fmt.Errorf("async: provision %s: %w", r.dest.Name, err)
	}
	r.closers = append(r.closers, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			env.Log.Warn("cleanup failed", "destination", r.dest.Name, "err", err)
		}
	}, r.closeConsumers)
	for _, g := range r.groups {
		for range c.Consumers {
			cn, err := env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: g, Prefetch: c.Batch})
			if err != nil {
				return fmt.Errorf("async: consumer of group %s: %w", g, err)
			}
			r.consumers = append(r.consumers, cn)
		}
	}
	if r.pool, err = svc.OpenPool(ctx, env.Driver, r.dest, c.Producers); err != nil {
		return fmt.Errorf("async: %w", err)
	}
	r.closers = append(r.closers, r.pool.Close)
	return nil
}

func (r *run) closeConsumers() {
	for _, cn := range r.consumers {
		cn.Close()
	}
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
		r.modes[i] = &mode{name: name, start: ms, measuredStart: ms.Add(c.Warmup), end: ms.Add(c.Warmup + per), response: svc.NewHist()}
		r.total = r.modes[i].end.Sub(r.start)
		if name == MQ {
			r.mqMode = r.modes[i]
		}
	}
	seconds := int((r.total+c.Drain)/time.Second) + 60
	for _, m := range r.modes {
		m.series = svc.NewSeries(r.start, seconds)
	}
	stickWarm := r.total // no message is sent without the mq mode
	if r.mqMode != nil {
		stickWarm = r.mqMode.measuredStart.Sub(r.start)
	}
	r.st = probe.New(probe.Options{RunID: r.env.RunID, Groups: r.groups, Start: r.start, Warmup: stickWarm, Seconds: seconds})
	for _, n := range r.notifiers {
		n.series = svc.NewSeries(r.start, seconds)
		if r.mqMode != nil {
			n.measure.Store(r.mqMode.measuredStart.UnixNano())
		}
	}
}

// startConsumers runs the notification services' consume loops (counted
// by cwg) until recv is done; ctx abandons their work.
func (r *run) startConsumers(ctx, recv context.Context, cwg *sync.WaitGroup) {
	for i, cn := range r.consumers {
		g := r.groupOf(i)
		n := r.notifiers[g]
		pr := r.st.Consumer(g)
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			err := svc.Consume(recv, ctx, cn, pr, svc.ConsumeOptions{Group: g, Batch: r.c.Batch, Parallel: r.c.Batch}, n.handle)
			if err != nil {
				r.consErrsMu.Lock()
				r.consErrs = append(r.consErrs, fmt.Errorf("%s consumer: %w", g, err))
				r.consErrsMu.Unlock()
			}
		}()
	}
}

// runModes runs the modes' open-loop requests one after the other and
// records each mode's unsent requests.
func (r *run) runModes(ctx context.Context) {
	modes := make([]svc.Mode, len(r.modes))
	for i, m := range r.modes {
		modes[i] = svc.Mode{Name: m.name, Start: m.start, End: m.end, Unsent: &m.stats.unsent, Request: func(intended time.Time) { r.request(ctx, m, intended) }}
	}
	svc.RunModes(ctx, svc.Modes{Report: r.env.Report, Start: r.start, Total: r.total, Gap: phaseGap,
		Rate: r.c.Rate, MaxInFlight: r.c.MaxInFlight, Late: func(mode string, late time.Duration) {
			r.note("mode %s started %s late (the previous mode overran); its first requests were dispatched late and their wait counts in their response time", mode, late.Round(time.Millisecond))
		}}, modes)
}
