// Package peakshaving is the flash-sale scenario (traffic peak shaving): a
// stock of K items meets a burst of N requests from concurrent clients, far
// above what the sale service can process. A front end admits a request into
// the queue only while fewer than T requests wait there and answers every
// other one "sold out, try again" at once; the sale service consumes at a
// fixed capacity C and deducts stock with a conditional update in a real
// database (embedded SQLite, or PostgreSQL with database_url).
//
// Admission uses the broker's own mechanism when the driver declares
// Capabilities.MaxLengthReject (RabbitMQ x-max-length with reject-publish):
// the destination is provisioned with MaxLength T and a send refused with
// driver.ErrRejected is the "sold out" answer. Otherwise an application gate
// admits: an in-process counter of admitted, not yet processed requests,
// reserved before the send (so it can never exceed T) and released when the
// sale service has processed the request. The result names the mechanism.
//
// Queue depth is measured by the scenario itself, the same way for every
// broker: requests confirmed admitted minus requests processed. With the
// application gate it never exceeds T. With the broker gate the broker caps
// only the messages waiting (ready); each sale instance may hold up to
// Prefetch more delivered but unprocessed, so the documented overshoot is
// Consumers × Prefetch.
package peakshaving

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// Admission mechanisms.
const (
	AdmissionAuto        = "auto"        // broker when the driver can, else application
	AdmissionBroker      = "broker"      // Destination.MaxLength with ErrRejected
	AdmissionApplication = "application" // in-process counter of waiting requests
)

// bodyMin is the envelope plus the 8-byte request id that follows it.
const bodyMin = envelope.Size + 8

// Config of the peakshaving scenario.
//
// Common fields used: Duration is the burst window over which the Requests
// arrive evenly, unless Rate > 0, in which case they arrive at Rate per
// second (and the window is Requests/Rate). Producers is the number of
// concurrent clients, each sending one request at a time; Consumers the
// number of sale service instances sharing the Capacity. Drain bounds the
// wait for the admitted requests to be processed after the burst. Size is
// the request body size. Partitions is passed to the destination. Warmup is
// not used: every request of the burst counts.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Requests is N, the number of requests in the burst.
	Requests int `yaml:"requests" json:"requests"`
	// Stock is K, the items on sale.
	Stock int `yaml:"stock" json:"stock"`
	// Threshold is T, the most requests admitted and waiting.
	Threshold int `yaml:"threshold" json:"threshold"`
	// Capacity is C, the requests per second the sale service processes,
	// over all its instances.
	Capacity float64 `yaml:"capacity" json:"capacity"`
	// Admission is auto, broker or application.
	Admission string `yaml:"admission" json:"admission"`
	// Prefetch bounds the requests each sale instance holds delivered but
	// not yet processed; with the broker gate it is the overshoot per
	// instance above Threshold.
	Prefetch int `yaml:"prefetch" json:"prefetch"`
	// DatabaseURL says where the sale service's database lives: empty for
	// embedded SQLite (peakshaving.db in the run's work directory), or a
	// postgres:// URL for a schema unique to the run in that PostgreSQL
	// database (see package store).
	DatabaseURL string `yaml:"database_url" json:"database_url"`
}

// Validate checks every field and returns the first problem as a
// *scenarios.FieldError.
func (c *Config) Validate() error {
	if err := scenarios.ValidateShared(c); err != nil {
		return err
	}
	fe := func(field, msg string) error { return &scenarios.FieldError{Field: field, Msg: msg} }
	switch {
	case c.Size < bodyMin:
		return fe("size", fmt.Sprintf("must be at least %d bytes (envelope + request id)", bodyMin))
	case c.Requests < 1 || c.Requests > 10_000_000:
		return fe("requests", "must be between 1 and 10000000")
	case c.Rate > 0 && float64(c.Requests)/c.Rate > scenarios.MaxDuration.Seconds():
		return fe("rate", "too low: the burst (requests / rate) must last at most 24h")
	case c.Stock < 1 || c.Stock > 1_000_000_000:
		return fe("stock", "must be between 1 and 1000000000")
	case c.Threshold < 1 || c.Threshold > 10_000_000:
		return fe("threshold", "must be between 1 and 10000000")
	case !(c.Capacity >= scenarios.MinRate) || c.Capacity > 1e6:
		return fe("capacity", "must be between 0.001 and 1000000 requests per second")
	case c.Admission != AdmissionAuto && c.Admission != AdmissionBroker && c.Admission != AdmissionApplication:
		return fe("admission", fmt.Sprintf("unknown admission %q (valid: auto, broker, application)", c.Admission))
	case c.Prefetch < 1 || c.Prefetch > 10000:
		return fe("prefetch", "must be between 1 and 10000")
	}
	if err := store.CheckURL(c.DatabaseURL); err != nil {
		return fe("database_url", err.Error())
	}
	return nil
}

// window is the burst duration.
func (c *Config) window() time.Duration {
	if c.Rate > 0 {
		return time.Duration(float64(c.Requests) / c.Rate * 1e9)
	}
	return c.Duration
}

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "peakshaving" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "flash sale: a burst far above capacity, queue-threshold admission, fast rejects, no oversell"
}

// DefaultConfig implements scenarios.Scenario.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 0, Duration: 2 * time.Second, Drain: 60 * time.Second,
			Size: 128, Producers: 50, Consumers: 1, Partitions: 1,
		},
		Requests: 10000, Stock: 100, Threshold: 200, Capacity: 500,
		Admission: AdmissionAuto, Prefetch: 10,
	}
	if quick {
		c.Requests, c.Duration, c.Producers, c.Drain = 2000, time.Second, 20, 30*time.Second
	}
	return c
}

// Request states, one per request id.
const (
	stNew      int32 = iota
	stReserved       // holds an application-gate slot, send pending
	stAdmitted       // confirmed admitted
	stFailed         // send failed (slot released)
	stDone           // processed by the sale service
)

// run is the shared state of one execution.
type run struct {
	c        *Config
	start    time.Time
	appGate  bool
	limit    int64
	db       *store.DB
	states   []atomic.Int32
	inGate   atomic.Int64 // application gate: reserved slots
	admitted atomic.Int64 // confirmed admissions
	done     atomic.Int64 // distinct requests processed
	peak     atomic.Int64
	sold     atomic.Int64
	sellout  atomic.Int64 // ns since start when the last item sold; 0 = not yet
	issued   atomic.Int64
	accepted atomic.Int64
	rejected atomic.Int64
	failed   atomic.Int64
	// interrupted: the send was cut short by ctx (Ctrl-C); no answer.
	interrupted atomic.Int64
	dupes       atomic.Int64
	dbErrs      atomic.Int64
	restarts    atomic.Int64 // sale consumers reopened after an error

	input, processed, depth []atomic.Int64 // per second

	errMu   sync.Mutex
	lastErr error
}

func (r *run) sec(t time.Time) int {
	i := int(t.Sub(r.start) / time.Second)
	return min(max(i, 0), len(r.input)-1)
}

func atomicMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// observeDepth records the current queue depth for the peak and the series.
func (r *run) observeDepth(at time.Time) {
	d := r.admitted.Load() - r.done.Load()
	atomicMax(&r.peak, d)
	atomicMax(&r.depth[r.sec(at)], d)
}

func (r *run) noteErr(err error) {
	r.errMu.Lock()
	r.lastErr = err
	r.errMu.Unlock()
}

// reserve takes an application-gate slot; false means the queue is full.
func (r *run) reserve() bool {
	for {
		cur := r.inGate.Load()
		if cur >= r.limit {
			return false
		}
		if r.inGate.CompareAndSwap(cur, cur+1) {
			return true
		}
	}
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("peakshaving: config is %T, want *peakshaving.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("peakshaving: %w", err)
	}
	caps := env.Driver.Info().Capabilities
	useBroker := caps.MaxLengthReject && c.Admission != AdmissionApplication
	if c.Admission == AdmissionBroker && !caps.MaxLengthReject {
		return nil, fmt.Errorf("peakshaving: admission broker: %s cannot reject over a max length: %w", env.Driver.Info().Name, errors.ErrUnsupported)
	}
	var notes []string

	const group = "sale"
	dest := driver.Destination{Name: env.Prefix + "-peakshaving", Groups: []string{group}, Partitions: c.Partitions}
	if useBroker {
		dest.MaxLength = c.Threshold
	}
	env.Report("provision", 0)
	cleanup, err := env.Driver.Provision(ctx, dest)
	if err != nil && useBroker && errors.Is(err, errors.ErrUnsupported) && c.Admission == AdmissionAuto {
		notes = append(notes, "the driver declares max-length rejection but Provision refused it: "+err.Error()+"; fell back to the application gate")
		useBroker, dest.MaxLength = false, 0
		cleanup, err = env.Driver.Provision(ctx, dest)
	}
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", dest.Name, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			env.Log.Warn("cleanup failed", "destination", dest.Name, "err", err)
		}
	}()

	dbs, err := store.NewOpener(c.DatabaseURL, env.WorkDir, env.RunID)
	if err != nil {
		return nil, fmt.Errorf("peakshaving: database_url: %w", err)
	}
	notes = append(notes, "database: "+dbs.Describe())
	db, err := dbs.Open(ctx, "peakshaving.db", schema)
	if err != nil {
		return nil, fmt.Errorf("peakshaving: %w", err)
	}
	defer db.Close()
	if err := initDB(ctx, db, c.Stock); err != nil {
		return nil, fmt.Errorf("peakshaving: %w", err)
	}

	consumers := make([]driver.Consumer, 0, c.Consumers)
	defer func() {
		for _, cn := range consumers {
			cn.Close()
		}
	}()
	for range c.Consumers {
		cn, err := env.Driver.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: group, Prefetch: c.Prefetch})
		if err != nil {
			return nil, fmt.Errorf("sale consumer: %w", err)
		}
		consumers = append(consumers, cn)
	}
	producers := make([]driver.Producer, 0, c.Producers)
	defer func() {
		for _, p := range producers {
			p.Close()
		}
	}()
	for range c.Producers {
		p, err := env.Driver.NewProducer(ctx, dest, driver.ProducerOptions{MaxInFlight: 1})
		if err != nil {
			return nil, fmt.Errorf("client producer: %w", err)
		}
		producers = append(producers, p)
	}

	window := c.window()
	seconds := int((window+c.Drain)/time.Second) + 60
	r := &run{
		c: c, appGate: !useBroker, limit: int64(c.Threshold), db: db,
		states: make([]atomic.Int32, c.Requests),
		input:  make([]atomic.Int64, seconds), processed: make([]atomic.Int64, seconds), depth: make([]atomic.Int64, seconds),
	}
	r.start = time.Now().Add(50 * time.Millisecond) // let every client reach its first wait
	st := probe.New(probe.Options{RunID: env.RunID, Groups: []string{group}, Start: r.start, Seconds: seconds})

	// Sale service.
	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var cwg sync.WaitGroup
	for _, cn := range consumers {
		pr := st.Consumer(group)
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			r.saleInstance(consCtx, env, dest, cn, pr)
		}()
	}
	consumers = nil // owned by the sale instances now

	// Depth sampler: keeps the series continuous between events.
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
				r.observeDepth(now)
				if now.Before(r.start.Add(window)) {
					env.Report("burst", min(1, float64(r.issued.Load())/float64(c.Requests)))
				} else if a := r.accepted.Load(); a > 0 {
					env.Report("drain", min(1, float64(r.done.Load())/float64(a)))
				}
			}
		}
	}()

	// Clients.
	rate := float64(c.Requests) / window.Seconds()
	hists := make([]*clientHists, len(producers))
	var pwg sync.WaitGroup
	for i, p := range producers {
		hists[i] = newClientHists()
		pr := st.Producer(uint32(i))
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			r.client(ctx, i, p, pr, rate, hists[i])
		}()
	}
	pwg.Wait()

	// Drain: wait for every admitted request to be processed.
	env.Report("drain", 0)
	drained := r.waitProcessed(ctx, c.Drain)
	stopConsumers()
	cwg.Wait()
	stopSampler()
	swg.Wait()

	complete := ctx.Err() == nil
	sum := st.Summary(complete && drained)
	res := &result.Result{
		Config:     c,
		Latency:    sum.Latency,
		Throughput: sum.Throughput,
		Accounting: sum.Accounting,
		Timeline:   sum.Timeline,
		Notes:      notes,
	}
	all := newClientHists()
	for _, h := range hists {
		all.merge(h)
	}
	acc, rej := probe.Summarize(all.accept), probe.Summarize(all.reject)
	acc.Corrected, rej.Corrected = true, true
	accSvc, rejSvc := probe.Summarize(all.acceptSvc), probe.Summarize(all.rejectSvc)
	res.Latency["accept_response"] = acc
	res.Latency["reject_response"] = rej
	res.Latency["accept_service"] = accSvc
	res.Latency["reject_service"] = rejSvc

	// The database is the authority on what was sold.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	fin, ferr := final(fctx, db)
	if ferr != nil {
		return res, fmt.Errorf("peakshaving: read final state: %w", ferr)
	}

	requests, accepted, rejected, failed := r.issued.Load(), r.accepted.Load(), r.rejected.Load(), r.failed.Load()
	interrupted := r.interrupted.Load()
	oversold := max(0, fin.sold-int64(c.Stock)) + max(0, -fin.stock)
	overshoot := int64(0)
	if useBroker {
		overshoot = int64(c.Consumers * c.Prefetch)
		res.Notes = append(res.Notes, fmt.Sprintf("admission: broker (destination max length %d, over-limit sends refused by the broker and answered \"sold out, try again\"); the broker caps waiting messages only, so up to consumers × prefetch = %d more may be delivered and unprocessed", c.Threshold, overshoot))
		res.SetMetric("admission_broker", 1, "bool")
	} else {
		reason := "the driver cannot reject over a max length"
		if c.Admission == AdmissionApplication {
			reason = "chosen in the configuration"
		}
		res.Notes = append(res.Notes, fmt.Sprintf("admission: application (%s): an in-process counter reserves one of %d slots before each send and frees it once the sale service processed the request; rejected requests never reach the broker", reason, c.Threshold))
		res.SetMetric("admission_broker", 0, "bool")
	}
	res.Notes = append(res.Notes, "queue depth = requests confirmed admitted − requests processed, measured by mqbench the same way on every broker")

	res.SetMetric("requests", float64(requests), "count")
	res.SetMetric("accepted", float64(accepted), "count")
	res.SetMetric("rejected", float64(rejected), "count")
	res.SetMetric("errors", float64(failed), "count")
	if interrupted > 0 {
		res.SetMetric("interrupted", float64(interrupted), "count")
		res.Notes = append(res.Notes, fmt.Sprintf("%d requests were in flight when the run was interrupted: neither accepted nor rejected", interrupted))
	}
	res.SetMetric("processed", float64(fin.processed), "count")
	res.SetMetric("duplicates", float64(r.dupes.Load()), "count")
	res.SetMetric("sold", float64(fin.sold), "count")
	res.SetMetric("oversold", float64(oversold), "count")
	res.SetMetric("stock_initial", float64(c.Stock), "count")
	res.SetMetric("stock_final", float64(fin.stock), "count")
	res.SetMetric("threshold", float64(c.Threshold), "count")
	res.SetMetric("queue_depth_peak", float64(r.peak.Load()), "count")
	res.SetMetric("queue_depth_limit", float64(int64(c.Threshold)+overshoot), "count")
	res.SetMetric("capacity", c.Capacity, "req/s")
	res.SetMetric("arrival_rate", rate, "req/s")
	if acc.Count > 0 {
		res.SetMetric("accept_p99_ms", acc.P99, "ms")
		res.SetMetric("accept_service_p99_ms", accSvc.P99, "ms")
	} else {
		res.Notes = append(res.Notes, "no request was accepted: accept_p99_ms not measured")
	}
	if rej.Count > 0 {
		res.SetMetric("reject_p99_ms", rej.P99, "ms")
		res.SetMetric("reject_service_p99_ms", rejSvc.P99, "ms")
	} else {
		res.Notes = append(res.Notes, "no request was rejected: reject_p99_ms not measured")
	}
	if ns := r.sellout.Load(); ns > 0 {
		res.SetMetric("sellout_seconds", float64(ns)/1e9, "s")
	} else {
		res.Notes = append(res.Notes, "the stock did not sell out: sellout_seconds not measured")
	}
	if r.dbErrs.Load() > 0 {
		res.SetMetric("db_errors", float64(r.dbErrs.Load()), "count")
	}
	r.errMu.Lock()
	if r.lastErr != nil {
		res.Notes = append(res.Notes, "last error: "+r.lastErr.Error())
	}
	r.errMu.Unlock()
	if n := r.restarts.Load(); n > 0 {
		res.SetMetric("sale_restarts", float64(n), "count")
	}
	res.Notes = append(res.Notes, "accept_response and reject_response (accept_p99_ms, reject_p99_ms) are measured from each request's intended arrival time (open loop), so a request waiting for a busy front-end client counts that wait; accept_service and reject_service measure from the moment a client took the request up, i.e. the admission mechanism's own cost")

	res.Series = r.series(len(sum.Timeline))

	res.Verdict = result.Verdict{Pass: true}
	res.Verdict.Check(oversold == 0, "oversold %d items (sold %d of %d, final stock %d)", oversold, fin.sold, c.Stock, fin.stock)
	res.Verdict.Check(fin.stock == int64(c.Stock)-fin.sold, "stock %d ≠ initial %d − sold %d", fin.stock, c.Stock, fin.sold)
	res.Verdict.Check(fin.sold == min(int64(c.Stock), fin.processed), "sold %d ≠ min(stock %d, processed %d)", fin.sold, c.Stock, fin.processed)
	res.Verdict.Check(accepted+rejected+failed+interrupted == requests, "answers %d ≠ requests %d", accepted+rejected+failed+interrupted, requests)
	res.Verdict.Check(failed == 0, "%d requests failed with an error instead of an answer (accepted + rejected = %d of %d requests)", failed, accepted+rejected, requests)
	res.Verdict.Check(r.peak.Load() <= int64(c.Threshold)+overshoot, "queue depth peaked at %d, above threshold %d + overshoot %d", r.peak.Load(), c.Threshold, overshoot)
	if complete {
		res.Verdict.Check(requests == int64(c.Requests), "only %d of %d requests were issued", requests, c.Requests)
		res.Verdict.Check(drained && fin.processed >= accepted, "drain did not complete within %s: %d of %d accepted requests processed", c.Drain, fin.processed, accepted)
		res.Verdict.Check(sum.Accounting.Lost == 0, "%d admitted requests lost by the broker", sum.Accounting.Lost)
	}
	return res, nil
}

// client sends the requests with index ≡ i (mod clients), each at its
// intended arrival time, and answers each one exactly once.
func (r *run) client(ctx context.Context, i int, p driver.Producer, pr *probe.Producer, rate float64, h *clientHists) {
	clients := r.c.Producers
	body := make([]byte, r.c.Size)
	key := binary.BigEndian.AppendUint32(nil, uint32(i))
	msgs := []driver.Message{{Key: key, Body: body}}
	for k := i; k < r.c.Requests; k += clients {
		intended := r.start.Add(time.Duration(float64(k) / rate * 1e9))
		if wait := time.Until(intended); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		r.issued.Add(1)
		r.input[r.sec(intended)].Add(1)
		taken := time.Now()
		if r.appGate {
			if !r.reserve() {
				r.rejected.Add(1)
				now := time.Now()
				probe.RecordNs(h.reject, now.Sub(intended).Nanoseconds())
				probe.RecordNs(h.rejectSvc, now.Sub(taken).Nanoseconds())
				continue
			}
			r.states[k].Store(stReserved)
		}
		pr.Stamp(body, intended, time.Now())
		binary.BigEndian.PutUint64(body[envelope.Size:], uint64(k))
		err := p.Send(ctx, msgs)
		now := time.Now()
		confirmed, rejected := pr.Sent(msgs, err, now)
		switch {
		case confirmed == 1:
			r.accepted.Add(1)
			probe.RecordNs(h.accept, now.Sub(intended).Nanoseconds())
			probe.RecordNs(h.acceptSvc, now.Sub(taken).Nanoseconds())
			r.admitted.Add(1)
			if !r.states[k].CompareAndSwap(stReserved, stAdmitted) && !r.states[k].CompareAndSwap(stNew, stAdmitted) {
				// The sale service processed it before the confirm came back.
				r.done.Add(1)
			}
			r.observeDepth(now)
		case rejected == 1:
			r.rejected.Add(1)
			probe.RecordNs(h.reject, now.Sub(intended).Nanoseconds())
			probe.RecordNs(h.rejectSvc, now.Sub(taken).Nanoseconds())
		default:
			if ctx.Err() != nil {
				r.interrupted.Add(1) // Ctrl-C while the send was in flight
			} else {
				r.failed.Add(1)
				r.noteErr(fmt.Errorf("request %d: %w", k, err))
			}
			if r.appGate && r.states[k].CompareAndSwap(stReserved, stFailed) {
				r.inGate.Add(-1)
			}
		}
	}
}

// clientHists are one client's response-time histograms (ns).
type clientHists struct {
	accept, reject       *hdrhistogram.Histogram // from the intended arrival
	acceptSvc, rejectSvc *hdrhistogram.Histogram // from taking the request up
}

func newClientHists() *clientHists {
	return &clientHists{probe.NewHistogram(), probe.NewHistogram(), probe.NewHistogram(), probe.NewHistogram()}
}

func (h *clientHists) merge(o *clientHists) {
	h.accept.Merge(o.accept)
	h.reject.Merge(o.reject)
	h.acceptSvc.Merge(o.acceptSvc)
	h.rejectSvc.Merge(o.rejectSvc)
}

// saleInstance runs one sale service instance until ctx is done, opening a
// new consumer after an error (the old one's unacked deliveries go back to
// the queue). It closes its consumer.
func (r *run) saleInstance(ctx context.Context, env scenarios.Env, dest driver.Destination, cn driver.Consumer, pr *probe.Consumer) {
	for {
		err := r.sell(ctx, cn, pr)
		cn.Close()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = driver.ErrClosed
		}
		r.noteErr(fmt.Errorf("sale service consumer: %w", err))
		r.restarts.Add(1)
		for {
			t := time.NewTimer(500 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if cn, err = env.Driver.NewConsumer(ctx, dest, driver.ConsumerOptions{Group: dest.Groups[0], Prefetch: r.c.Prefetch}); err == nil {
				break
			}
			r.noteErr(fmt.Errorf("sale service consumer: %w", err))
		}
	}
}

// sell processes deliveries from cn at the instance's share of the
// capacity and acks each batch after the database committed. It returns nil
// when ctx is done or cn is closed, or the error that stopped it.
func (r *run) sell(ctx context.Context, cn driver.Consumer, pr *probe.Consumer) error {
	interval := time.Duration(float64(r.c.Consumers) / r.c.Capacity * 1e9)
	var next time.Time
	var ack, nack []*driver.Delivery
	for {
		ds, err := cn.Receive(ctx, r.c.Prefetch)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, driver.ErrClosed) {
				return nil
			}
			return err
		}
		ack, nack = ack[:0], nack[:0]
		for _, d := range ds {
			now := time.Now()
			if next.Before(now.Add(-interval)) {
				next = now
			}
			if wait := next.Sub(now); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
				case <-t.C:
				}
			}
			if ctx.Err() != nil {
				break // unprocessed deliveries return to the queue on Close
			}
			next = next.Add(interval)
			if err := r.process(ctx, d, pr); err != nil {
				r.dbErrs.Add(1)
				r.noteErr(err)
				nack = append(nack, d)
				continue
			}
			ack = append(ack, d)
		}
		if len(ack) > 0 {
			if err := cn.Ack(ctx, ack); err != nil && ctx.Err() == nil && !errors.Is(err, driver.ErrClosed) {
				return fmt.Errorf("ack: %w", err)
			}
		}
		if len(nack) > 0 {
			if err := cn.Nack(ctx, nack); err != nil && ctx.Err() == nil && !errors.Is(err, driver.ErrClosed) && !errors.Is(err, errors.ErrUnsupported) {
				return fmt.Errorf("nack: %w", err)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// process handles one request in one database transaction: it records the
// request id (a second delivery of it changes nothing) and deducts one item
// with the conditional update.
func (r *run) process(ctx context.Context, d *driver.Delivery, pr *probe.Consumer) error {
	now := time.Now()
	_, kind := pr.Record(d.Body, now)
	if kind == probe.Foreign || len(d.Body) < bodyMin {
		return nil
	}
	id := binary.BigEndian.Uint64(d.Body[envelope.Size:])
	if id >= uint64(len(r.states)) {
		return nil
	}
	first, sold, err := sellTx(ctx, r.db, int64(id), now.Sub(r.start).Nanoseconds())
	if err != nil {
		return fmt.Errorf("sale of request %d: %w", id, err)
	}
	if !first {
		r.dupes.Add(1)
		return nil
	}
	if sold && r.sold.Add(1) == int64(r.c.Stock) {
		r.sellout.Store(max(1, now.Sub(r.start).Nanoseconds()))
	}
	prev := r.states[id].Swap(stDone)
	if r.appGate && (prev == stReserved || prev == stAdmitted) {
		r.inGate.Add(-1)
	}
	if prev == stAdmitted {
		r.done.Add(1)
	}
	r.processed[r.sec(now)].Add(1)
	r.observeDepth(now)
	return nil
}

// waitProcessed waits until every confirmed admission was processed, or
// timeout, or ctx is done; it reports whether all were processed.
func (r *run) waitProcessed(ctx context.Context, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if r.done.Load() >= r.admitted.Load() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return r.done.Load() >= r.admitted.Load()
		case <-tick.C:
		}
	}
}

// series returns the per-second chart data, n points (at least as many as
// seconds with data).
func (r *run) series(n int) map[string][]float64 {
	last := -1
	for i := range r.input {
		if r.input[i].Load()+r.processed[i].Load()+r.depth[i].Load() > 0 {
			last = i
		}
	}
	n = max(n, last+1)
	in, pr, dp, th := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		in[i] = float64(r.input[i].Load())
		pr[i] = float64(r.processed[i].Load())
		dp[i] = float64(r.depth[i].Load())
		th[i] = float64(r.c.Threshold)
	}
	return map[string][]float64{"input_per_s": in, "processed_per_s": pr, "queue_depth": dp, "threshold": th}
}

// schema creates the sale service's tables, emptied (a work directory
// reused by a previous run starts from the configured stock again).
const schema = `DROP TABLE IF EXISTS stock;
DROP TABLE IF EXISTS requests;
DROP TABLE IF EXISTS sales;
CREATE TABLE stock (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE requests (id INTEGER PRIMARY KEY, processed_ns INTEGER NOT NULL);
CREATE TABLE sales (request_id INTEGER PRIMARY KEY, sold_ns INTEGER NOT NULL)`

// initDB puts stock items on sale in the tables schema created.
func initDB(ctx context.Context, db *store.DB, stock int) error {
	if _, err := db.ExecContext(ctx, `INSERT INTO stock (id, n) VALUES (1, ?)`, stock); err != nil {
		return fmt.Errorf("insert stock: %w", err)
	}
	return nil
}

// sellTx processes request id in one transaction. first is false when the
// request had been processed before (nothing changed); sold says an item
// was deducted for it.
func sellTx(ctx context.Context, db *store.DB, id, ns int64) (first, sold bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO requests (id, processed_ns) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, ns)
	if err != nil {
		return false, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, false, err
	}
	res, err = tx.ExecContext(ctx, `UPDATE stock SET n = n - 1 WHERE id = ? AND n > 0`, 1)
	if err != nil {
		return false, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, false, err
	}
	if n == 1 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sales (request_id, sold_ns) VALUES (?, ?)`, id, ns); err != nil {
			return false, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, false, err
	}
	return true, n == 1, nil
}

type finalState struct {
	stock, sold, processed int64
}

func final(ctx context.Context, db *store.DB) (finalState, error) {
	var f finalState
	err := db.QueryRowContext(ctx, `SELECT (SELECT n FROM stock WHERE id = 1), (SELECT count(*) FROM sales), (SELECT count(*) FROM requests)`).Scan(&f.stock, &f.sold, &f.processed)
	return f, err
}
