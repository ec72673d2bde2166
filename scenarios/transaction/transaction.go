// Package transaction is the distributed-transaction scenario through a
// message table (the transactional outbox): an order service and an
// inventory service, each with its own database, reach the same end state
// through the broker although messages fail, are redelivered and are
// resent.
//
//   - The order service writes the paid order and a row of its message table
//     (outbox) in ONE local transaction of the order database.
//   - A relay scans the message table every ScanInterval; it records an
//     attempt on each row that was never confirmed or whose last attempt is
//     older than RetryInterval, publishes those rows to stock.deduct and
//     marks them sent once the broker confirmed.
//   - The inventory service consumes stock.deduct; in ONE local transaction
//     of the inventory database it checks its processed-messages table
//     (keyed by the order id, the business idempotency key carried in the
//     body after the envelope), deducts stock if the order is new and
//     records it; then it publishes the outcome to stock.result and acks.
//     Faults: with probability FailureRate the processing fails before
//     commit (nack where the broker can, otherwise a "failed" outcome that
//     leaves the row to the relay), and after every CrashEvery-th commit the
//     consumer crashes before answering and acking (Close and a new
//     consumer), so the broker redelivers what it had committed.
//   - The order service consumes stock.result: a success moves the row from
//     the message table to the history table in one transaction; a failure
//     leaves it for the relay.
//   - RelayCrashEvery makes the relay crash after the broker confirmed a
//     publish and before it marked the rows sent (reliability fault 8): the
//     restarted relay publishes them again.
//
// Native mode replaces the message table with the driver's transactional
// messages (driver.Transactor: RocketMQ half messages with check-back) where
// the client offers them; elsewhere the result says "unsupported by client".
//
// Files: config.go (Config, defaults, validation), transaction.go (Run:
// set up, run the phases, drain, tear down), order.go (the order service:
// orders, check-back, result consumer), relay.go (the message-table
// relay), inventory.go (the inventory service), db.go (both databases),
// sampler.go (pending orders, per-second series), stats.go (the counters),
// result.go (metrics, notes and verdict).
package transaction

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// Group names.
const (
	inventoryGroup = "inventory"
	orderGroup     = "order"
)

// run is the shared state of one execution.
type run struct {
	c          *Config
	env        scenarios.Env
	transactor driver.Transactor // native mode only
	start      time.Time
	warmEnd    time.Time
	odbs       *store.Opener // order database
	idbs       *store.Opener // inventory database
	odb, idb   *store.DB
	native     bool
	canNack    bool
	deduct     driver.Destination
	result     driver.Destination
	dst, rst   *probe.Stick
	dIDs       atomic.Uint32 // probe producer ids on stock.deduct
	rIDs       atomic.Uint32 // probe producer ids on stock.result
	closers    []func()      // run in reverse order when Run returns

	nextOrder atomic.Int64
	stats     stats
	ttc       *hdrhistogram.Histogram // written by the order-result goroutine only

	finished sync.Map // native: order ids whose local transaction returned

	seconds                                     int         // slots of each series
	ordersPS, consistentPS, ttcMaxPS, pendingPS *svc.Series // per second
}

// noteErr records an error of what (counted, the last one kept for the
// notes) and logs it at debug level.
func (r *run) noteErr(what string, err error) {
	r.stats.noteErr(fmt.Errorf("%s: %w", what, err))
	r.env.Log.Debug("transaction: "+what, "err", err)
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("transaction: config is %T, want *transaction.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	info := env.Driver.Info()
	transactor, isTx := env.Driver.(driver.Transactor)
	nativeOK := isTx && info.Capabilities.NativeTransaction
	res := &result.Result{Config: c}
	if nativeOK {
		res.SetMetric(MetricNativeSupported, 1, "bool")
	} else {
		res.SetMetric(MetricNativeSupported, 0, "bool")
	}
	unsupported := fmt.Sprintf("native transactional messages: unsupported by client %s %s (%s)", info.Client, info.ClientVersion, info.Name)
	if c.Mode == ModeNative && !nativeOK {
		res.Notes = append(res.Notes, unsupported+"; nothing was run")
		res.Verdict.Check(false, "%s", unsupported)
		return res, fmt.Errorf("transaction: mode native: %s: %w", unsupported, errors.ErrUnsupported)
	}
	native := c.Mode == ModeNative || (c.Mode == ModeAuto && nativeOK)
	if !nativeOK {
		res.Notes = append(res.Notes, unsupported+"; ran the outbox (message table) mode")
	}

	r := &run{c: c, env: env, native: native, canNack: info.Capabilities.Nack, ttc: probe.NewHistogram()}
	if native {
		r.transactor = transactor
	}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	complete, consistent, drained, err := r.execute(ctx, res)
	if err != nil {
		return nil, err
	}
	r.fill(ctx, res, complete, consistent, drained)
	return res, nil
}

// close runs the closers, the last registered first.
func (r *run) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// setup provisions both destinations and opens both databases, with the
// initial stock. What it opened is closed by close, also when it fails.
func (r *run) setup(ctx context.Context) error {
	c, env := r.c, r.env
	r.deduct = driver.Destination{Name: env.Prefix + "-stock.deduct", Groups: []string{inventoryGroup}, Partitions: c.Partitions}
	r.result = driver.Destination{Name: env.Prefix + "-stock.result", Groups: []string{orderGroup}, Partitions: c.Partitions}
	env.Report("provision", 0)
	for _, d := range []driver.Destination{r.deduct, r.result} {
		cleanup, err := env.Driver.Provision(ctx, d)
		if err != nil {
			return fmt.Errorf("provision %s: %w", d.Name, err)
		}
		r.closers = append(r.closers, func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := cleanup(cctx); err != nil {
				env.Log.Warn("cleanup failed", "destination", d.Name, "err", err)
			}
		})
	}

	var err error
	if r.odbs, err = store.NewOpener(c.OrderDatabaseURL, env.WorkDir, env.RunID); err != nil {
		return fmt.Errorf("transaction: order_database_url: %w", err)
	}
	if r.idbs, err = store.NewOpener(c.InventoryDatabaseURL, env.WorkDir, env.RunID); err != nil {
		return fmt.Errorf("transaction: inventory_database_url: %w", err)
	}
	if r.odb, err = openDB(ctx, r.odbs, "orders.db", orderSchema); err != nil {
		return err
	}
	r.closers = append(r.closers, func() { r.odb.Close() })
	if r.idb, err = openDB(ctx, r.idbs, "inventory.db", inventorySchema); err != nil {
		return err
	}
	r.closers = append(r.closers, func() { r.idb.Close() })
	if _, err := r.idb.ExecContext(ctx, `INSERT INTO stock (id, n) VALUES (1, ?)`, c.InitialStock); err != nil {
		return fmt.Errorf("transaction: initial stock: %w", err)
	}
	return nil
}

func openDB(ctx context.Context, dbs *store.Opener, name string, schema []string) (*store.DB, error) {
	db, err := dbs.Open(ctx, name, strings.Join(schema, ";\n"))
	if err != nil {
		return nil, fmt.Errorf("transaction: %s: %w", name, err)
	}
	return db, nil
}

// execute runs the scenario's phases: it starts the consumers, the sampler
// and the relay, runs the order service over warm-up and duration, waits
// for consistency (at most Drain) and for the last messages, then stops
// everything. complete says ctx was not cancelled; consistent that every
// order reached the history in time; drained that both destinations went
// quiet. Notes about the order service go to res.
func (r *run) execute(ctx context.Context, res *result.Result) (complete, consistent, drained bool, err error) {
	c := r.c
	total := c.Warmup + c.Duration
	seconds := int((total+c.Drain)/time.Second) + 90
	r.start = time.Now()
	r.seconds = seconds
	r.ordersPS, r.consistentPS = svc.NewSeries(r.start, seconds), svc.NewSeries(r.start, seconds)
	r.ttcMaxPS, r.pendingPS = svc.NewSeries(r.start, seconds), svc.NewSeries(r.start, seconds)
	r.warmEnd = r.start.Add(c.Warmup)
	r.dst = probe.New(probe.Options{RunID: r.env.RunID, Groups: []string{inventoryGroup}, Start: r.start, Warmup: c.Warmup, Seconds: seconds})
	r.rst = probe.New(probe.Options{RunID: r.env.RunID, Groups: []string{orderGroup}, Start: r.start, Warmup: c.Warmup, Seconds: seconds})

	// Consumers first: the order service's result consumer and the
	// inventory instances. They stop only after the drain.
	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var cwg sync.WaitGroup
	if err := r.startConsumers(ctx, consCtx, &cwg); err != nil {
		stopConsumers()
		cwg.Wait()
		return false, false, false, err
	}

	sampCtx, stopSampler := context.WithCancel(context.WithoutCancel(ctx))
	var swg sync.WaitGroup
	swg.Go(func() { r.sample(sampCtx, total) })

	// Relay (outbox mode).
	relayCtx, stopRelay := context.WithCancel(ctx)
	defer stopRelay()
	var rwg sync.WaitGroup
	if !r.native {
		rwg.Go(func() { r.relay(relayCtx) })
	}

	closeTx := r.placeAll(ctx, res, r.start.Add(total))

	// Drain: wait for consistency, stop the relay, let the last messages
	// arrive (resends in flight), then stop the consumers.
	r.env.Report("consistency", 0)
	consistent = r.waitConsistent(ctx, c.Drain)
	stopRelay()
	rwg.Wait()
	if ctx.Err() == nil {
		drained = load.Drain(ctx, r.dst, 15*time.Second, 3*time.Second)
		drained = load.Drain(ctx, r.rst, 15*time.Second, 3*time.Second) && drained
	}
	closeTx()
	stopConsumers()
	cwg.Wait()
	stopSampler()
	swg.Wait()
	return ctx.Err() == nil, consistent, drained, nil
}

// startConsumers opens the order service's result consumer and the
// inventory instances' consumers and starts them on consCtx.
func (r *run) startConsumers(ctx, consCtx context.Context, wg *sync.WaitGroup) error {
	rc, err := r.env.Driver.NewConsumer(ctx, r.result, driver.ConsumerOptions{Group: orderGroup})
	if err != nil {
		return fmt.Errorf("order service result consumer: %w", err)
	}
	wg.Go(func() { r.orderResults(consCtx, rc) })
	for i := range r.c.Consumers {
		cn, err := r.env.Driver.NewConsumer(ctx, r.deduct, driver.ConsumerOptions{Group: inventoryGroup})
		if err != nil {
			return fmt.Errorf("inventory consumer: %w", err)
		}
		rng := rand.New(rand.NewPCG(r.c.Seed, uint64(i)))
		wg.Go(func() { r.inventory(consCtx, cn, rng) })
	}
	return nil
}
