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
package transaction

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// Modes.
const (
	ModeAuto   = "auto"   // native where the driver implements driver.Transactor, else outbox
	ModeOutbox = "outbox" // message table and relay
	ModeNative = "native" // broker transactional messages; unsupported elsewhere
)

// Body layout after the envelope: order id (8 bytes), then one byte (the
// outcome in stock.result).
const (
	idOffset      = envelope.Size
	outcomeOffset = envelope.Size + 8
	bodyMin       = envelope.Size + 9
)

// errInjected is the failure FailureRate injects into processing.
var errInjected = errors.New("injected processing failure")

// Config of the transaction scenario.
//
// Common fields used: Rate is the orders per second (must be > 0; open
// loop) over Duration, with Warmup orders left out of the time to
// consistency; Producers are order-service goroutines (several, so that a
// slow transactional send in native mode does not hold the schedule back);
// Consumers are
// inventory-service instances; Drain bounds the wait for consistency after
// the last order; Size is the message body size; Partitions is passed to
// both destinations.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Mode is auto, outbox or native.
	Mode string `yaml:"mode" json:"mode"`
	// ScanInterval is the relay's period.
	ScanInterval time.Duration `yaml:"scan_interval" json:"scan_interval"`
	// RetryInterval: a published row still in the message table after this
	// long is published again.
	RetryInterval time.Duration `yaml:"retry_interval" json:"retry_interval"`
	// RelayBatch is the most rows one relay publish carries.
	RelayBatch int `yaml:"relay_batch" json:"relay_batch"`
	// FailureRate is the probability that inventory processing fails
	// before commit (seeded by Seed).
	FailureRate float64 `yaml:"failure_rate" json:"failure_rate"`
	// CrashEvery: each inventory instance crashes after every CrashEvery-th
	// committed deduction, before answering and acking; 0 never.
	CrashEvery int `yaml:"crash_every" json:"crash_every"`
	// RelayCrashEvery: the relay crashes after every RelayCrashEvery-th
	// confirmed publish, before marking the rows sent; 0 never.
	RelayCrashEvery int `yaml:"relay_crash_every" json:"relay_crash_every"`
	// InitialStock is the inventory before the first order; it must cover
	// every order.
	InitialStock int64 `yaml:"initial_stock" json:"initial_stock"`
	// Seed of the fault injection's random numbers.
	Seed uint64 `yaml:"seed" json:"seed"`
	// OrderDatabaseURL and InventoryDatabaseURL say where the two separate
	// databases live: empty for embedded SQLite files (orders.db and
	// inventory.db in the run's work directory), or a postgres:// URL for a
	// schema unique to the run in that PostgreSQL database (see package
	// store); the two may name the same PostgreSQL database and still get
	// separate schemas.
	OrderDatabaseURL     string `yaml:"order_database_url" json:"order_database_url"`
	InventoryDatabaseURL string `yaml:"inventory_database_url" json:"inventory_database_url"`
}

// maxOrders bounds the orders the open-loop schedule can produce.
// It saturates at 1<<62 instead of overflowing.
func (c *Config) maxOrders() int64 {
	n := math.Ceil(c.Rate*(c.Warmup+c.Duration).Seconds()) + float64(c.Producers)
	if !(n < 1<<62) {
		return 1 << 62
	}
	return int64(n)
}

// Validate checks every field and returns the first problem as a
// *scenarios.FieldError.
func (c *Config) Validate() error {
	if err := scenarios.ValidateShared(c); err != nil {
		return err
	}
	fe := func(field, msg string) error { return &scenarios.FieldError{Field: field, Msg: msg} }
	switch {
	case c.Rate <= 0:
		return fe("rate", "must be > 0 orders per second (the order service is paced)")
	case c.Size < bodyMin:
		return fe("size", fmt.Sprintf("must be at least %d bytes (envelope + order id + outcome)", bodyMin))
	case c.Mode != ModeAuto && c.Mode != ModeOutbox && c.Mode != ModeNative:
		return fe("mode", fmt.Sprintf("unknown mode %q (valid: auto, outbox, native)", c.Mode))
	case c.ScanInterval < time.Millisecond || c.ScanInterval > 10*time.Second:
		return fe("scan_interval", "must be between 1ms and 10s")
	case c.RetryInterval <= c.ScanInterval || c.RetryInterval > 10*time.Minute:
		return fe("retry_interval", "must be longer than scan_interval and at most 10m")
	case c.RelayBatch < 1 || c.RelayBatch > 10000:
		return fe("relay_batch", "must be between 1 and 10000")
	case !(c.FailureRate >= 0 && c.FailureRate <= 0.9):
		return fe("failure_rate", "must be between 0 and 0.9")
	case c.CrashEvery < 0 || c.CrashEvery > 1_000_000_000:
		return fe("crash_every", "must be between 0 (never) and 1000000000")
	case c.RelayCrashEvery < 0 || c.RelayCrashEvery > 1_000_000_000:
		return fe("relay_crash_every", "must be between 0 (never) and 1000000000")
	case c.InitialStock < c.maxOrders() || c.InitialStock > 1<<50:
		return fe("initial_stock", fmt.Sprintf("must cover every order: at least rate × (warmup + duration) + producers = %d", c.maxOrders()))
	}
	if err := store.CheckURL(c.OrderDatabaseURL); err != nil {
		return fe("order_database_url", err.Error())
	}
	if err := store.CheckURL(c.InventoryDatabaseURL); err != nil {
		return fe("inventory_database_url", err.Error())
	}
	return nil
}

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "transaction" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "distributed transaction via an outbox (or native transactional messages): exactly-once effect despite resends, failures and crashes"
}

// DefaultConfig implements scenarios.Scenario.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 100, Duration: 30 * time.Second, Drain: 60 * time.Second,
			Size: 128, Producers: 4, Consumers: 2, Partitions: 1,
		},
		Mode: ModeAuto, ScanInterval: 100 * time.Millisecond, RetryInterval: 3 * time.Second,
		RelayBatch: 100, FailureRate: 0.1, CrashEvery: 200, RelayCrashEvery: 25,
		InitialStock: 1_000_000, Seed: 1,
	}
	if quick {
		c.Rate, c.Duration, c.Drain = 50, 8*time.Second, 30*time.Second
		c.RetryInterval, c.CrashEvery = 2*time.Second, 100
	}
	return c
}

// Group names.
const (
	inventoryGroup = "inventory"
	orderGroup     = "order"
)

// run is the shared state of one execution. Counters are updated by the
// services' goroutines and read at the end.
type run struct {
	c        *Config
	env      scenarios.Env
	start    time.Time
	warmEnd  time.Time
	odbs     *store.Opener // order database
	idbs     *store.Opener // inventory database
	odb, idb *store.DB
	native   bool
	canNack  bool
	deduct   driver.Destination
	result   driver.Destination
	dst, rst *probe.Stick
	dIDs     atomic.Uint32 // probe producer ids on stock.deduct
	rIDs     atomic.Uint32 // probe producer ids on stock.result

	nextOrder     atomic.Int64
	orders        atomic.Int64 // committed orders
	orderErrs     atomic.Int64
	published     atomic.Int64 // confirmed publishes to stock.deduct (resends included)
	sendFailures  atomic.Int64
	retries       atomic.Int64
	relayCrashes  atomic.Int64
	failures      atomic.Int64 // injected processing failures
	crashes       atomic.Int64 // inventory consumer crashes
	restarts      atomic.Int64 // consumer restarts after errors
	dupDelivered  atomic.Int64
	failedResults atomic.Int64
	insufficient  atomic.Int64
	unknownOrders atomic.Int64
	consistentN   atomic.Int64 // orders moved to history
	dupResults    atomic.Int64
	ttc           *hdrhistogram.Histogram // written by the order-result goroutine only

	finished sync.Map // native: order ids whose local transaction returned

	ordersPS, consistentPS, ttcMaxPS, pendingPS []atomic.Int64

	errMu   sync.Mutex
	lastErr error
	nErrs   int64
}

func (r *run) sec(t time.Time) int {
	i := int(t.Sub(r.start) / time.Second)
	return min(max(i, 0), len(r.ordersPS)-1)
}

func atomicMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func (r *run) noteErr(what string, err error) {
	r.errMu.Lock()
	r.lastErr = fmt.Errorf("%s: %w", what, err)
	r.nErrs++
	r.errMu.Unlock()
	r.env.Log.Debug("transaction: "+what, "err", err)
}

// sleep waits d or until ctx is done; false means ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
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
		res.SetMetric("native_supported", 1, "bool")
	} else {
		res.SetMetric("native_supported", 0, "bool")
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
	r.deduct = driver.Destination{Name: env.Prefix + "-stock.deduct", Groups: []string{inventoryGroup}, Partitions: c.Partitions}
	r.result = driver.Destination{Name: env.Prefix + "-stock.result", Groups: []string{orderGroup}, Partitions: c.Partitions}
	env.Report("provision", 0)
	for _, d := range []driver.Destination{r.deduct, r.result} {
		cleanup, err := env.Driver.Provision(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("provision %s: %w", d.Name, err)
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := cleanup(cctx); err != nil {
				env.Log.Warn("cleanup failed", "destination", d.Name, "err", err)
			}
		}()
	}

	var err error
	if r.odbs, err = store.NewOpener(c.OrderDatabaseURL, env.WorkDir, env.RunID); err != nil {
		return nil, fmt.Errorf("transaction: order_database_url: %w", err)
	}
	if r.idbs, err = store.NewOpener(c.InventoryDatabaseURL, env.WorkDir, env.RunID); err != nil {
		return nil, fmt.Errorf("transaction: inventory_database_url: %w", err)
	}
	if r.odb, err = openDB(ctx, r.odbs, "orders.db", orderSchema); err != nil {
		return nil, err
	}
	defer r.odb.Close()
	if r.idb, err = openDB(ctx, r.idbs, "inventory.db", inventorySchema); err != nil {
		return nil, err
	}
	defer r.idb.Close()
	if _, err := r.idb.ExecContext(ctx, `INSERT INTO stock (id, n) VALUES (1, ?)`, c.InitialStock); err != nil {
		return nil, fmt.Errorf("transaction: initial stock: %w", err)
	}

	total := c.Warmup + c.Duration
	seconds := int((total+c.Drain)/time.Second) + 90
	r.ordersPS, r.consistentPS = make([]atomic.Int64, seconds), make([]atomic.Int64, seconds)
	r.ttcMaxPS, r.pendingPS = make([]atomic.Int64, seconds), make([]atomic.Int64, seconds)
	r.start = time.Now()
	r.warmEnd = r.start.Add(c.Warmup)
	r.dst = probe.New(probe.Options{RunID: env.RunID, Groups: []string{inventoryGroup}, Start: r.start, Warmup: c.Warmup, Seconds: seconds})
	r.rst = probe.New(probe.Options{RunID: env.RunID, Groups: []string{orderGroup}, Start: r.start, Warmup: c.Warmup, Seconds: seconds})

	// Consumers first: the order service's result consumer and the
	// inventory instances. They stop only after the drain.
	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var cwg sync.WaitGroup
	rc, err := env.Driver.NewConsumer(ctx, r.result, driver.ConsumerOptions{Group: orderGroup})
	if err != nil {
		return nil, fmt.Errorf("order service result consumer: %w", err)
	}
	cwg.Add(1)
	go func() {
		defer cwg.Done()
		r.orderResults(consCtx, rc)
	}()
	for i := range c.Consumers {
		cn, err := env.Driver.NewConsumer(ctx, r.deduct, driver.ConsumerOptions{Group: inventoryGroup})
		if err != nil {
			stopConsumers()
			cwg.Wait()
			return nil, fmt.Errorf("inventory consumer: %w", err)
		}
		rng := rand.New(rand.NewPCG(c.Seed, uint64(i)))
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			r.inventory(consCtx, cn, rng)
		}()
	}

	// Sampler: pending orders per second and progress.
	sampCtx, stopSampler := context.WithCancel(context.WithoutCancel(ctx))
	var swg sync.WaitGroup
	swg.Add(1)
	go func() {
		defer swg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampCtx.Done():
				return
			case now := <-t.C:
				atomicMax(&r.pendingPS[r.sec(now)], r.orders.Load()-r.consistentN.Load())
				if el := now.Sub(r.start); el < total {
					env.Report("orders", float64(el)/float64(total))
				} else if o := r.orders.Load(); o > 0 {
					env.Report("consistency", min(1, float64(r.consistentN.Load())/float64(o)))
				}
			}
		}
	}()

	// Relay (outbox mode).
	relayCtx, stopRelay := context.WithCancel(ctx)
	defer stopRelay()
	var rwg sync.WaitGroup
	if !native {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			r.relay(relayCtx)
		}()
	}

	// Order service.
	end := r.start.Add(total)
	var txps []driver.TxProducer
	defer func() {
		for _, tp := range txps {
			tp.Close()
		}
	}()
	var gwg sync.WaitGroup
	for range c.Producers {
		sched := load.NewSchedule(c.Rate/float64(c.Producers), r.start, end, 1)
		if !native {
			gwg.Add(1)
			go func() {
				defer gwg.Done()
				r.placeOrders(ctx, sched)
			}()
			continue
		}
		tp, err := transactor.NewTxProducer(ctx, r.deduct, r.checkBack)
		if err != nil {
			res.Notes = append(res.Notes, "transactional producer: "+err.Error())
			break
		}
		txps = append(txps, tp)
		pr := r.dst.Producer(r.dIDs.Add(1) - 1)
		gwg.Add(1)
		go func() {
			defer gwg.Done()
			r.placeOrdersNative(ctx, tp, pr, sched)
		}()
	}
	gwg.Wait()

	// Drain: wait for consistency, stop the relay, let the last messages
	// arrive (resends in flight), then stop the consumers.
	env.Report("consistency", 0)
	consistent := r.waitConsistent(ctx, c.Drain)
	stopRelay()
	rwg.Wait()
	drained := false
	if ctx.Err() == nil {
		drained = load.Drain(ctx, r.dst, 15*time.Second, 3*time.Second)
		drained = load.Drain(ctx, r.rst, 15*time.Second, 3*time.Second) && drained
	}
	for _, tp := range txps {
		tp.Close()
	}
	txps = nil
	stopConsumers()
	cwg.Wait()
	stopSampler()
	swg.Wait()

	complete := ctx.Err() == nil
	r.fill(ctx, res, complete, consistent, drained)
	return res, nil
}

func openDB(ctx context.Context, dbs *store.Opener, name string, schema []string) (*store.DB, error) {
	db, err := dbs.Open(ctx, name, strings.Join(schema, ";\n"))
	if err != nil {
		return nil, fmt.Errorf("transaction: %s: %w", name, err)
	}
	return db, nil
}

// waitConsistent waits until every committed order reached the history, or
// timeout, or ctx is done.
func (r *run) waitConsistent(ctx context.Context, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if r.consistentN.Load() >= r.orders.Load() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return r.consistentN.Load() >= r.orders.Load()
		case <-tick.C:
		}
	}
}

// placeOrders is one order-service goroutine in outbox mode: each order and
// its message-table row in one local transaction.
func (r *run) placeOrders(ctx context.Context, sched *load.Schedule) {
	var times []time.Time
	for {
		var ok bool
		if times, ok = sched.Next(ctx, times); !ok {
			return
		}
		for range times {
			id := r.nextOrder.Add(1)
			created := time.Now()
			if err := placeOrder(ctx, r.odb, id, created.UnixNano(), true); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.orderErrs.Add(1)
				r.noteErr(fmt.Sprintf("order %d", id), err)
				continue
			}
			r.orders.Add(1)
			r.ordersPS[r.sec(created)].Add(1)
		}
	}
}

// placeOrdersNative is one order-service goroutine in native mode: the
// order's local transaction runs inside the broker's transactional send.
func (r *run) placeOrdersNative(ctx context.Context, tp driver.TxProducer, pr *probe.Producer, sched *load.Schedule) {
	body := make([]byte, r.c.Size)
	key := binary.BigEndian.AppendUint32(nil, pr.ID())
	var times []time.Time
	for {
		var ok bool
		if times, ok = sched.Next(ctx, times); !ok {
			return
		}
		for _, at := range times {
			id := r.nextOrder.Add(1)
			pr.Stamp(body, at, time.Now())
			binary.BigEndian.PutUint64(body[idOffset:], uint64(id))
			msg := driver.Message{Key: key, Body: body}
			committed := false
			state, err := tp.SendTx(ctx, msg, func(lctx context.Context) driver.TxState {
				defer r.finished.Store(id, true)
				created := time.Now()
				if err := placeOrder(lctx, r.odb, id, created.UnixNano(), false); err != nil {
					if lctx.Err() == nil {
						r.noteErr(fmt.Sprintf("order %d", id), err)
					}
					return driver.TxRollback
				}
				committed = true
				r.orders.Add(1)
				r.ordersPS[r.sec(created)].Add(1)
				return driver.TxCommit
			})
			serr := err
			if serr == nil && state != driver.TxCommit {
				serr = fmt.Errorf("transactional send of order %d ended %s", id, state)
			}
			n, _ := pr.Sent([]driver.Message{msg}, serr, time.Now())
			r.published.Add(int64(n))
			if serr != nil {
				if ctx.Err() != nil && !committed {
					return
				}
				r.sendFailures.Add(1)
				r.noteErr("transactional send", serr)
			}
			if !committed && ctx.Err() == nil {
				r.orderErrs.Add(1)
			}
		}
	}
}

// checkBack answers the broker's check for a half message whose outcome it
// did not hear: commit iff the order row exists; unknown while the local
// transaction may still be running.
func (r *run) checkBack(ctx context.Context, m driver.Message) driver.TxState {
	if len(m.Body) < bodyMin {
		return driver.TxRollback
	}
	id := int64(binary.BigEndian.Uint64(m.Body[idOffset:]))
	ok, err := orderExists(ctx, r.odb, id)
	switch {
	case err != nil:
		return driver.TxUnknown
	case ok:
		return driver.TxCommit
	}
	if _, done := r.finished.Load(id); done {
		return driver.TxRollback
	}
	return driver.TxUnknown
}

// relay publishes due message-table rows until ctx is done.
func (r *run) relay(ctx context.Context) {
	var p driver.Producer
	var pr *probe.Producer
	defer func() {
		if p != nil {
			p.Close()
		}
	}()
	var bufs [][]byte
	var msgs []driver.Message
	var publishes int
	tick := time.NewTicker(r.c.ScanInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if p == nil {
			np, err := r.env.Driver.NewProducer(ctx, r.deduct, driver.ProducerOptions{})
			if err != nil {
				if ctx.Err() == nil {
					r.noteErr("relay producer", err)
				}
				continue
			}
			// A restarted relay is a new producer: new ids, sequences from 0.
			p, pr = np, r.dst.Producer(r.dIDs.Add(1)-1)
		}
		key := binary.BigEndian.AppendUint32(nil, pr.ID())
		for range 20 { // catch up at most 20 batches per scan
			now := time.Now()
			rows, err := duePending(ctx, r.odb, now.Add(-r.c.RetryInterval).UnixNano(), now.UnixNano(), r.c.RelayBatch)
			if err != nil {
				if ctx.Err() == nil {
					r.noteErr("relay scan", err)
				}
				break
			}
			if len(rows) == 0 {
				break
			}
			for len(bufs) < len(rows) {
				bufs = append(bufs, make([]byte, r.c.Size))
			}
			msgs = msgs[:0]
			for j, row := range rows {
				pr.Stamp(bufs[j], now, time.Now())
				binary.BigEndian.PutUint64(bufs[j][idOffset:], uint64(row.id))
				msgs = append(msgs, driver.Message{Key: key, Body: bufs[j]})
				if row.attempts > 0 {
					r.retries.Add(1)
				}
			}
			err = p.Send(ctx, msgs)
			n, _ := pr.Sent(msgs, err, time.Now())
			r.published.Add(int64(n))
			var sent []int64
			for j, row := range rows {
				if driver.Confirmed(err, len(msgs), j) {
					sent = append(sent, row.id)
				}
			}
			if err != nil {
				r.sendFailures.Add(int64(len(msgs) - n))
				if ctx.Err() != nil {
					return
				}
				r.noteErr("relay publish", err)
				if n == 0 {
					// Nothing went through: the producer may be broken.
					// Reopen it on the next scan; the rows stay due.
					p.Close()
					p = nil
					break
				}
			}
			if n > 0 {
				publishes++
				if r.c.RelayCrashEvery > 0 && publishes%r.c.RelayCrashEvery == 0 {
					// Crash between the broker's confirm and the mark: the
					// rows stay unconfirmed and the restarted relay
					// publishes them again.
					r.relayCrashes.Add(1)
					p.Close()
					p = nil
					break
				}
			}
			if len(sent) > 0 {
				if err := markSent(ctx, r.odb, sent); err != nil && ctx.Err() == nil {
					r.noteErr("relay mark", err)
				}
			}
			if len(rows) < r.c.RelayBatch {
				break
			}
		}
	}
}

// inventory is one inventory-service instance. It restarts its consumer
// (and result producer) after an injected crash or an error.
func (r *run) inventory(ctx context.Context, cn driver.Consumer, rng *rand.Rand) {
	pr := r.dst.Consumer(inventoryGroup)
	var p driver.Producer
	var rp *probe.Producer
	body := make([]byte, max(r.c.Size, bodyMin))
	var committed int
	shut := func() {
		if cn != nil {
			cn.Close()
			cn = nil
		}
		if p != nil {
			p.Close()
			p = nil
		}
	}
	defer shut()
	for {
		if ctx.Err() != nil {
			return
		}
		if cn == nil {
			var err error
			if cn, err = r.env.Driver.NewConsumer(ctx, r.deduct, driver.ConsumerOptions{Group: inventoryGroup}); err != nil {
				if ctx.Err() == nil {
					r.noteErr("inventory consumer", err)
					sleep(ctx, 500*time.Millisecond)
				}
				continue
			}
		}
		if p == nil {
			var err error
			if p, err = r.env.Driver.NewProducer(ctx, r.result, driver.ProducerOptions{}); err != nil {
				if ctx.Err() == nil {
					r.noteErr("inventory result producer", err)
					sleep(ctx, 500*time.Millisecond)
				}
				continue
			}
			rp = r.rst.Producer(r.rIDs.Add(1) - 1)
		}
		ds, err := cn.Receive(ctx, 10)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.noteErr("inventory receive", err)
			r.restarts.Add(1)
			shut()
			sleep(ctx, 200*time.Millisecond)
			continue
		}
	batch:
		for _, d := range ds {
			now := time.Now()
			_, kind := pr.Record(d.Body, now)
			if kind == probe.Foreign || len(d.Body) < bodyMin {
				_ = r.ack(ctx, cn, d)
				continue
			}
			id := int64(binary.BigEndian.Uint64(d.Body[idOffset:]))
			fail := r.c.FailureRate > 0 && rng.Float64() < r.c.FailureRate
			first, outcome, err := deduct(ctx, r.idb, id, 1, now.UnixNano(), fail)
			switch {
			case errors.Is(err, errInjected):
				r.failures.Add(1)
				switch {
				case r.canNack:
					if err := cn.Nack(ctx, []*driver.Delivery{d}); err != nil && ctx.Err() == nil {
						r.noteErr("inventory nack", err)
					}
				case !r.native:
					// No nack: answer "failed"; the relay resends later.
					if r.answer(ctx, p, rp, body, id, outcomeFailed) == nil {
						_ = r.ack(ctx, cn, d) // a lost ack only means a redelivery
					}
				default:
					// Native mode without nack: restart without acking,
					// so the broker redelivers.
					r.crashes.Add(1)
					shut()
					break batch
				}
				continue
			case err != nil:
				if ctx.Err() != nil {
					return
				}
				r.noteErr(fmt.Sprintf("inventory order %d", id), err)
				if r.canNack {
					cn.Nack(ctx, []*driver.Delivery{d})
				}
				continue
			}
			if !first {
				r.dupDelivered.Add(1)
			} else {
				committed++
				if r.c.CrashEvery > 0 && committed%r.c.CrashEvery == 0 {
					// Crash after commit, before answering and acking.
					r.crashes.Add(1)
					shut()
					break batch
				}
			}
			if err := r.answer(ctx, p, rp, body, id, outcome); err != nil {
				if ctx.Err() != nil {
					return
				}
				// The result producer may be broken: restart without
				// acking; the broker redelivers and the answer is retried.
				r.restarts.Add(1)
				shut()
				break batch
			}
			if err := r.ack(ctx, cn, d); err != nil && ctx.Err() == nil {
				r.restarts.Add(1)
				shut()
				break batch
			}
		}
	}
}

// ack acks one delivery; a failure is noted and returned.
func (r *run) ack(ctx context.Context, cn driver.Consumer, d *driver.Delivery) error {
	err := cn.Ack(ctx, []*driver.Delivery{d})
	if err != nil && ctx.Err() == nil {
		r.noteErr("ack", err)
	}
	return err
}

// answer publishes outcome for order id to stock.result.
func (r *run) answer(ctx context.Context, p driver.Producer, rp *probe.Producer, body []byte, id int64, outcome byte) error {
	now := time.Now()
	rp.Stamp(body, now, now)
	binary.BigEndian.PutUint64(body[idOffset:], uint64(id))
	body[outcomeOffset] = outcome
	msgs := []driver.Message{{Key: binary.BigEndian.AppendUint32(nil, rp.ID()), Body: body}}
	err := p.Send(ctx, msgs)
	rp.Sent(msgs, err, time.Now())
	if err != nil && ctx.Err() == nil {
		r.noteErr("inventory result publish", err)
	}
	return err
}

// orderResults is the order service's consumer of stock.result.
func (r *run) orderResults(ctx context.Context, cn driver.Consumer) {
	pr := r.rst.Consumer(orderGroup)
	defer func() {
		if cn != nil {
			cn.Close()
		}
	}()
	for {
		if ctx.Err() != nil {
			return
		}
		if cn == nil {
			var err error
			if cn, err = r.env.Driver.NewConsumer(ctx, r.result, driver.ConsumerOptions{Group: orderGroup}); err != nil {
				if ctx.Err() == nil {
					r.noteErr("order result consumer", err)
					sleep(ctx, 500*time.Millisecond)
				}
				continue
			}
		}
		ds, err := cn.Receive(ctx, 50)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.noteErr("order result receive", err)
			r.restarts.Add(1)
			cn.Close()
			cn = nil
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		var ack []*driver.Delivery
		for _, d := range ds {
			now := time.Now()
			_, kind := pr.Record(d.Body, now)
			if kind == probe.Foreign || len(d.Body) < bodyMin {
				ack = append(ack, d)
				continue
			}
			id := int64(binary.BigEndian.Uint64(d.Body[idOffset:]))
			switch d.Body[outcomeOffset] {
			case outcomeSuccess:
				moved, created, err := confirmOrder(ctx, r.odb, id, now.UnixNano())
				if errors.Is(err, sql.ErrNoRows) {
					r.unknownOrders.Add(1)
					break
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					r.noteErr(fmt.Sprintf("order %d confirmation", id), err)
					if r.canNack {
						cn.Nack(ctx, []*driver.Delivery{d})
					}
					continue
				}
				if !moved {
					r.dupResults.Add(1)
					break
				}
				r.consistentN.Add(1)
				s := r.sec(now)
				r.consistentPS[s].Add(1)
				if created >= r.warmEnd.UnixNano() {
					ns := now.UnixNano() - created
					probe.RecordNs(r.ttc, ns)
					atomicMax(&r.ttcMaxPS[s], ns)
				}
			case outcomeFailed:
				r.failedResults.Add(1)
			case outcomeInsufficient:
				r.insufficient.Add(1)
			}
			ack = append(ack, d)
		}
		if len(ack) > 0 {
			if err := cn.Ack(ctx, ack); err != nil && ctx.Err() == nil {
				r.noteErr("order result ack", err)
			}
		}
	}
}
