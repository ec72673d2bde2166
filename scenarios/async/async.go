// Package async is the asynchronous-processing scenario (user
// registration), scenarios.md §1.
//
// A user registers: the system writes the user to a real database (embedded
// SQLite) and must send a registration email and an SMS (simulated work
// times, default 50 ms each). Three modes run one after the other in one
// run, with the same costs and the same open-loop arrival rate:
//
//   - serial: write DB, send email, send SMS, answer;
//   - parallel: write DB, send email and SMS concurrently, answer when both
//     finished;
//   - mq: write DB, publish one user.registered message, answer once the
//     broker confirmed it. An email service and an SMS service, each a
//     consumer group of the destination, receive every message and send.
//     Both are idempotent: a processed table in their own database, keyed
//     by user id, is claimed before sending, so a duplicate delivery is
//     counted (duplicates_delivered) and never sends twice.
//
// Response time is measured from the intended request start of the
// open-loop schedule to the answer; notification latency from the same
// start to the email (or SMS) sent. Each mode gets Duration/len(modes) of
// measured load after its own warm-up.
package async

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/load"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// The modes, in the order they run.
const (
	Serial   = "serial"
	Parallel = "parallel"
	MQ       = "mq"
)

// Consumer groups of the mq mode.
const (
	GroupEmail = "email"
	GroupSMS   = "sms"
)

// kindRegistered marks a user.registered body (the byte after the envelope);
// the user id follows as 8 bytes big endian.
const kindRegistered byte = 1

// minSize is the smallest body: envelope, kind byte and user id.
const minSize = svc.PayloadOffset + 8

// phaseGap separates the modes so one mode's last answers do not overlap the
// next mode's requests.
const phaseGap = time.Second

// Config of the async scenario. Common fields used: Rate (registrations per
// second, open loop, > 0), Duration (total measured load, split evenly over
// the modes), Warmup (per mode, excluded from figures), Drain (bound on the
// wait for notifications after the mq load), Size (user.registered body),
// Producers (producers shared by the mq mode's request goroutines),
// Consumers (per service group), Partitions, Profile.
type Config struct {
	scenarios.Common `yaml:",inline"`
	// Modes to run, in this order; default serial, parallel, mq.
	Modes []string `yaml:"modes" json:"modes"`
	// EmailTime and SMSTime are the simulated costs of sending one email
	// and one SMS, the same in every mode.
	EmailTime time.Duration `yaml:"email_time" json:"email_time"`
	SMSTime   time.Duration `yaml:"sms_time" json:"sms_time"`
	// MaxInFlight bounds registrations being processed at once (one
	// goroutine each); beyond it arrivals wait, and their wait counts in
	// their response time.
	MaxInFlight int `yaml:"max_in_flight" json:"max_in_flight"`
	// Batch is the most deliveries a notification consumer takes per
	// Receive; it handles them concurrently, then acks them.
	Batch int `yaml:"batch" json:"batch"`
	// DatabaseURL says where the users database and the two notification
	// services' databases live: empty for embedded SQLite files in the
	// run's work directory, or a postgres:// URL for one schema each, unique
	// to the run, in that PostgreSQL database (see package store).
	DatabaseURL string `yaml:"database_url" json:"database_url"`
	// ReadyTimeout bounds the wait, before the clock starts, until both
	// consumer groups actually receive (Kafka and RocketMQ groups take
	// seconds to join).
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
		return fe("rate", "must be > 0: registrations arrive open loop at this rate")
	case c.Size < minSize:
		return fe("size", fmt.Sprintf("must be at least %d bytes (envelope, kind and user id)", minSize))
	case len(c.Modes) == 0:
		return fe("modes", "must list at least one of serial, parallel, mq")
	case c.EmailTime < 0 || c.EmailTime > time.Minute:
		return fe("email_time", "must be between 0 and 1m")
	case c.SMSTime < 0 || c.SMSTime > time.Minute:
		return fe("sms_time", "must be between 0 and 1m")
	case c.MaxInFlight < 1 || c.MaxInFlight > 100000:
		return fe("max_in_flight", "must be between 1 and 100000")
	case c.Batch < 1 || c.Batch > 10000:
		return fe("batch", "must be between 1 and 10000")
	case c.ReadyTimeout <= 0:
		return fe("ready_timeout", "must be > 0")
	}
	seen := map[string]bool{}
	for _, m := range c.Modes {
		if m != Serial && m != Parallel && m != MQ {
			return fe("modes", fmt.Sprintf("unknown mode %q (valid: serial, parallel, mq)", m))
		}
		if seen[m] {
			return fe("modes", fmt.Sprintf("mode %q listed twice", m))
		}
		seen[m] = true
	}
	if c.Duration/time.Duration(len(c.Modes)) < time.Second {
		return fe("duration", "must give each mode at least 1s")
	}
	if err := store.CheckURL(c.DatabaseURL); err != nil {
		return fe("database_url", err.Error())
	}
	return nil
}

// Scenario implements scenarios.Scenario.
type Scenario struct{}

// Name implements scenarios.Scenario.
func (Scenario) Name() string { return "async" }

// Summary implements scenarios.Scenario.
func (Scenario) Summary() string {
	return "user registration: serial vs parallel vs message queue response time; email and SMS services as two consumer groups, idempotent"
}

// DefaultConfig implements scenarios.Scenario.
func (Scenario) DefaultConfig(quick bool) scenarios.Config {
	c := &Config{
		Common: scenarios.Common{
			Rate: 100, Duration: 60 * time.Second, Warmup: 3 * time.Second, Drain: 30 * time.Second,
			Size: 256, Producers: 32, Consumers: 1, Partitions: 1,
		},
		Modes:     []string{Serial, Parallel, MQ},
		EmailTime: 50 * time.Millisecond, SMSTime: 50 * time.Millisecond,
		MaxInFlight: 2000, Batch: 64, ReadyTimeout: 60 * time.Second,
	}
	if quick {
		c.Duration, c.Warmup, c.Drain = 9*time.Second, time.Second, 20*time.Second
	}
	return c
}

// mode holds one mode's measures.
type mode struct {
	name          string
	start         time.Time // first intended request
	measuredStart time.Time // warm-up end
	end           time.Time // schedule end
	response      *svc.Hist
	answered      atomic.Int64 // answered OK (warm-up included)
	measured      atomic.Int64 // answered OK after the warm-up
	failed        atomic.Int64 // DB or publish failure
	series        *svc.Series
}

// notifier is one notification service (email or SMS): its own database
// with the processed table, a simulated gateway, and its counters.
type notifier struct {
	group   string
	cost    time.Duration
	db      *store.DB
	notify  *svc.Hist
	series  *svc.Series
	measure atomic.Int64 // IntendNs from which notify latency counts (0 = not yet)

	mu      sync.Mutex
	sends   map[int64]int // gateway: sends per user id
	sent    int64         // gateway sends
	doubles int64         // sends of a user already sent to (must stay 0)
	dupes   atomic.Int64  // deliveries of an already processed user id
	errs    atomic.Int64  // database errors (delivery nacked)
}

// The services' tables start empty: user ids restart at 1 every run.
const notifierSchema = `DROP TABLE IF EXISTS processed;
CREATE TABLE processed (
	user_id  INTEGER PRIMARY KEY,
	state    TEXT NOT NULL,
	sent_ns  INTEGER
)`

// handle is the idempotent service: claim the user id, send, mark sent.
func (n *notifier) handle(ctx context.Context, d *driver.Delivery, h envelope.Header, _ probe.Kind) error {
	if svc.Kind(d.Body) != kindRegistered || len(d.Body) < minSize {
		return nil // not a registration: nothing to do
	}
	user := int64(binary.BigEndian.Uint64(d.Body[svc.PayloadOffset:]))
	res, err := n.db.ExecContext(ctx, `INSERT INTO processed (user_id, state) VALUES (?, 'sending') ON CONFLICT (user_id) DO NOTHING`, user)
	if err != nil {
		n.errs.Add(1)
		return fmt.Errorf("%s: claim user %d: %w", n.group, user, err)
	}
	if k, err := res.RowsAffected(); err != nil || k == 0 {
		n.dupes.Add(1)
		return nil // already processed (or being processed): never send twice
	}
	if err := svc.Sleep(ctx, n.cost); err != nil {
		// Died before sending: release the claim so a redelivery sends.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = n.db.ExecContext(rctx, `DELETE FROM processed WHERE user_id = ? AND state = 'sending'`, user)
		return err
	}
	now := time.Now()
	n.mu.Lock()
	n.sends[user]++
	n.sent++
	if n.sends[user] > 1 {
		n.doubles++
	}
	n.mu.Unlock()
	n.series.Add(now, 1)
	if m := n.measure.Load(); m != 0 && h.IntendNs >= m {
		n.notify.Record(time.Duration(now.UnixNano() - h.IntendNs))
	}
	if _, err := n.db.ExecContext(context.WithoutCancel(ctx), `UPDATE processed SET state = 'sent', sent_ns = ? WHERE user_id = ?`, now.UnixNano(), user); err != nil {
		n.errs.Add(1)
		return nil // sent already; acking avoids a second send, the state row stays 'sending'
	}
	return nil
}

// Run implements scenarios.Scenario.
func (Scenario) Run(ctx context.Context, env scenarios.Env, cfg scenarios.Config) (*result.Result, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("async: config is %T, want *async.Config", cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("async: %w", err)
	}
	r := &run{c: c, env: env}
	return r.run(ctx)
}

type run struct {
	c   *Config
	env scenarios.Env

	dbs     *store.Opener
	users   *store.DB
	dbWrite *svc.Hist
	userSeq atomic.Int64

	dest       driver.Destination
	pool       *svc.Pool
	consumers  []driver.Consumer
	notifiers  map[string]*notifier
	confirmMu  sync.Mutex
	confirmed  []int64 // user ids whose user.registered was confirmed
	notes      []string
	consErrsMu sync.Mutex
	consErrs   []error
}

func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *run) run(ctx context.Context) (*result.Result, error) {
	c, env := r.c, r.env
	env.Report("setup", 0)
	var err error
	if r.dbs, err = store.NewOpener(c.DatabaseURL, env.WorkDir, env.RunID); err != nil {
		return nil, fmt.Errorf("async: database_url: %w", err)
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
		return nil, fmt.Errorf("async: users database: %w", err)
	}
	defer r.users.Close()
	r.dbWrite = svc.NewHist()

	useMQ := slices.Contains(c.Modes, MQ)
	groups := []string{GroupEmail, GroupSMS}
	r.notifiers = map[string]*notifier{}
	recvCtx, stopRecv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRecv()
	var cwg sync.WaitGroup
	ready := &svc.Ready{}
	if useMQ {
		for _, g := range groups {
			cost := c.EmailTime
			if g == GroupSMS {
				cost = c.SMSTime
			}
			db, err := r.dbs.Open(ctx, "async-"+g+".db", notifierSchema)
			if err != nil {
				return nil, fmt.Errorf("async: %s service database: %w", g, err)
			}
			defer db.Close()
			r.notifiers[g] = &notifier{group: g, cost: cost, db: db, notify: svc.NewHist(), sends: map[int64]int{}}
		}
		r.dest = driver.Destination{Name: env.Prefix + "-user.registered", Groups: groups, Partitions: c.Partitions}
		env.Report("provision", 0)
		cleanup, err := env.Driver.Provision(ctx, r.dest)
		if err != nil {
			return nil, fmt.Errorf("async: provision %s: %w", r.dest.Name, err)
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := cleanup(cctx); err != nil {
				env.Log.Warn("cleanup failed", "destination", r.dest.Name, "err", err)
			}
		}()
		defer func() {
			for _, cn := range r.consumers {
				cn.Close()
			}
		}()
		for _, g := range groups {
			for range c.Consumers {
				cn, err := env.Driver.NewConsumer(ctx, r.dest, driver.ConsumerOptions{Group: g, Prefetch: c.Batch})
				if err != nil {
					return nil, fmt.Errorf("async: consumer of group %s: %w", g, err)
				}
				r.consumers = append(r.consumers, cn)
			}
		}
		r.pool, err = svc.OpenPool(ctx, env.Driver, r.dest, c.Producers)
		if err != nil {
			return nil, fmt.Errorf("async: %w", err)
		}
		defer r.pool.Close()

		// Readiness: consume pings only, until both groups receive.
		env.Report("ready", 0)
		pingCtx, stopPing := context.WithCancel(recvCtx)
		var pwg sync.WaitGroup
		for i, cn := range r.consumers {
			g := groups[i/c.Consumers]
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				_ = svc.Consume(pingCtx, ctx, cn, nil, svc.ConsumeOptions{Group: g, Batch: c.Batch, Ready: ready}, nil)
			}()
		}
		err = svc.WaitReady(ctx, r.pool, env.RunID, c.Size, ready, groups, c.ReadyTimeout)
		stopPing()
		pwg.Wait()
		if err != nil {
			if ctx.Err() != nil {
				return interrupted(c), nil
			}
			return nil, fmt.Errorf("async: %w", err)
		}
	}

	// Plan the modes on one clock.
	per := c.Duration / time.Duration(len(c.Modes))
	start := time.Now().Add(100 * time.Millisecond)
	modes := make([]*mode, len(c.Modes))
	total := time.Duration(0)
	for i, name := range c.Modes {
		ms := start.Add(time.Duration(i) * (c.Warmup + per + phaseGap))
		modes[i] = &mode{name: name, start: ms, measuredStart: ms.Add(c.Warmup), end: ms.Add(c.Warmup + per), response: svc.NewHist()}
		total = modes[i].end.Sub(start)
	}
	seconds := int((total+c.Drain)/time.Second) + 60
	for _, m := range modes {
		m.series = svc.NewSeries(start, seconds)
	}
	var mqMode *mode
	for _, m := range modes {
		if m.name == MQ {
			mqMode = m
		}
	}
	stickWarm := total // no message is sent without the mq mode
	if mqMode != nil {
		stickWarm = mqMode.measuredStart.Sub(start)
	}
	st := probe.New(probe.Options{RunID: env.RunID, Groups: groups, Start: start, Warmup: stickWarm, Seconds: seconds})
	for _, n := range r.notifiers {
		n.series = svc.NewSeries(start, seconds)
		if mqMode != nil {
			n.measure.Store(mqMode.measuredStart.UnixNano())
		}
	}
	if useMQ {
		r.pool.Bind(st)
		for i, cn := range r.consumers {
			g := groups[i/c.Consumers]
			n := r.notifiers[g]
			pr := st.Consumer(g)
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				err := svc.Consume(recvCtx, ctx, cn, pr, svc.ConsumeOptions{Group: g, Batch: c.Batch, Parallel: c.Batch, Ready: ready}, n.handle)
				if err != nil {
					r.consErrsMu.Lock()
					r.consErrs = append(r.consErrs, fmt.Errorf("%s consumer: %w", g, err))
					r.consErrsMu.Unlock()
				}
			}()
		}
	}

	// Progress while the modes run.
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
			r.note("mode %s started %s late (the previous mode overran); its first requests were dispatched late and their wait counts in their response time", m.name, late.Round(time.Millisecond))
		} else if err := svc.Sleep(ctx, -late); err != nil {
			break
		}
		svc.OpenLoop(ctx, c.Rate, m.start, m.end, c.MaxInFlight, func(intended time.Time) { r.request(ctx, m, intended) })
	}
	close(progressDone)

	drained := true
	if useMQ {
		env.Report("drain", 1)
		drained = load.Drain(ctx, st, c.Drain, c.Drain)
	}
	stopRecv()
	if !waitTimeout(&cwg, 30*time.Second) {
		for _, cn := range r.consumers {
			cn.Close()
		}
		if !waitTimeout(&cwg, 10*time.Second) {
			r.note("a consumer goroutine did not stop within 40s")
		}
	}
	complete := ctx.Err() == nil
	return r.result(ctx, st, modes, complete, drained, start, total), nil
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

func interrupted(c *Config) *result.Result {
	res := &result.Result{Config: c}
	res.Verdict = result.Verdict{Pass: true}
	return res
}

// request is one registration in mode m, intended to start at intended.
func (r *run) request(ctx context.Context, m *mode, intended time.Time) {
	id := r.userSeq.Add(1)
	t0 := time.Now()
	_, err := r.users.ExecContext(ctx, `INSERT INTO users (id, mode, email, phone, created_ns) VALUES (?, ?, ?, ?, ?)`,
		id, m.name, fmt.Sprintf("user%d@example.test", id), fmt.Sprintf("+1555%07d", id%10000000), t0.UnixNano())
	if err != nil {
		if ctx.Err() == nil {
			m.failed.Add(1)
		}
		return
	}
	measured := !intended.Before(m.measuredStart)
	if measured {
		r.dbWrite.Record(time.Since(t0))
	}
	switch m.name {
	case Serial:
		if svc.Sleep(ctx, r.c.EmailTime) != nil || svc.Sleep(ctx, r.c.SMSTime) != nil {
			return
		}
	case Parallel:
		var wg sync.WaitGroup
		var e1, e2 error
		wg.Add(2)
		go func() { defer wg.Done(); e1 = svc.Sleep(ctx, r.c.EmailTime) }()
		go func() { defer wg.Done(); e2 = svc.Sleep(ctx, r.c.SMSTime) }()
		wg.Wait()
		if e1 != nil || e2 != nil {
			return
		}
	case MQ:
		body := make([]byte, r.c.Size)
		for i := minSize; i < len(body); i++ {
			body[i] = byte('a' + i%26)
		}
		body[svc.KindOffset] = kindRegistered
		binary.BigEndian.PutUint64(body[svc.PayloadOffset:], uint64(id))
		if err := r.pool.Publish(ctx, body, intended); err != nil {
			if ctx.Err() == nil {
				m.failed.Add(1)
			}
			return
		}
		r.confirmMu.Lock()
		r.confirmed = append(r.confirmed, id)
		r.confirmMu.Unlock()
	}
	now := time.Now()
	m.answered.Add(1)
	m.series.Add(now, 1)
	if measured {
		m.measured.Add(1)
		m.response.Record(now.Sub(intended))
	}
}

func (r *run) result(ctx context.Context, st *probe.Stick, modes []*mode, complete, drained bool, start time.Time, total time.Duration) *result.Result {
	c := r.c
	sum := st.Summary(complete && drained)
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
	for _, m := range modes {
		l := m.response.Summary()
		res.Latency["response_"+m.name] = l
		for _, p := range []string{"p50", "p90", "p99"} {
			svc.SetPercentile(res, "response_"+p+"_ms_"+m.name, l, p)
		}
		svc.SetRate(res, "registrations_per_s_"+m.name, m.measured.Load(), m.measuredStart, m.end)
		res.SetMetric("failed_"+m.name, float64(m.failed.Load()), "count")
		res.Series["answered_"+m.name] = m.series.Values(secs)
	}
	res.Latency["db_write"] = r.dbWrite.Summary()
	svc.SetPercentile(res, "db_write_p50_ms", res.Latency["db_write"], "p50")

	var mqMode *mode
	for _, m := range modes {
		if m.name == MQ {
			mqMode = m
		}
	}
	registrations := int64(len(r.confirmed))
	res.SetMetric("registrations", float64(registrations), "count")
	email, sms := r.notifiers[GroupEmail], r.notifiers[GroupSMS]
	var emails, smss, doubles, dupes, dbErrs int64
	if email != nil && sms != nil {
		email.mu.Lock()
		emails, doubles = email.sent, email.doubles
		email.mu.Unlock()
		sms.mu.Lock()
		smss, doubles = sms.sent, doubles+sms.doubles
		sms.mu.Unlock()
		dupes = email.dupes.Load() + sms.dupes.Load()
		dbErrs = email.errs.Load() + sms.errs.Load()
		ne, ns := email.notify.Summary(), sms.notify.Summary()
		all := svc.Merge(email.notify, sms.notify).Summary()
		res.Latency["notify_email"], res.Latency["notify_sms"], res.Latency["notify"] = ne, ns, all
		svc.SetPercentile(res, "notify_p50_ms", all, "p50")
		svc.SetPercentile(res, "notify_p99_ms", all, "p99")
		svc.SetPercentile(res, "notify_email_p99_ms", ne, "p99")
		svc.SetPercentile(res, "notify_sms_p99_ms", ns, "p99")
		res.Series["emails_sent"] = email.series.Values(secs)
		res.Series["sms_sent"] = sms.series.Values(secs)
	}
	res.SetMetric("emails_sent", float64(emails), "count")
	res.SetMetric("sms_sent", float64(smss), "count")
	res.SetMetric("duplicates_delivered", float64(dupes), "count")
	res.SetMetric("double_sends", float64(doubles), "count")
	res.SetMetric("service_db_errors", float64(dbErrs), "count")
	res.Notes = append(res.Notes, r.notes...)
	for _, err := range r.consErrs {
		res.Notes = append(res.Notes, "consumer stopped: "+err.Error())
	}
	res.Notes = append(res.Notes, "databases: "+r.dbs.Describe())

	// Verdict.
	res.Verdict = result.Verdict{Pass: true}
	res.Verdict.Check(doubles == 0, "%d notifications sent twice (idempotency broken)", doubles)
	if !complete {
		return res
	}
	for _, m := range modes {
		res.Verdict.Check(m.failed.Load() == 0, "mode %s: %d registrations failed", m.name, m.failed.Load())
		res.Verdict.Check(m.answered.Load() > 0, "mode %s: no registration answered", m.name)
	}
	if mqMode == nil {
		return res
	}
	a := sum.Accounting
	res.Verdict.Check(drained, "notifications did not drain within %s: %d deliveries missing", c.Drain, st.Snapshot().Remaining())
	if r.env.Profile != driver.Unsafe {
		res.Verdict.Check(a.Lost == 0, "%d confirmed user.registered messages lost", a.Lost)
	}
	for _, n := range []*notifier{email, sms} {
		missing := 0
		n.mu.Lock()
		for _, id := range r.confirmed {
			if n.sends[id] == 0 {
				missing++
			}
		}
		n.mu.Unlock()
		res.Verdict.Check(missing == 0, "%s: %d confirmed registrations got no %s", n.group, missing, n.group)
		var rows int64
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := n.db.QueryRowContext(qctx, `SELECT count(*) FROM processed WHERE state = 'sent'`).Scan(&rows)
		cancel()
		switch {
		case err != nil:
			res.Verdict.Check(false, "%s: read processed table: %v", n.group, err)
		default:
			n.mu.Lock()
			sent := n.sent
			n.mu.Unlock()
			res.Verdict.Check(rows == sent, "%s: processed table holds %d sent rows, the gateway sent %d", n.group, rows, sent)
		}
	}
	if registrations > 0 && mqMode.measured.Load() > 0 {
		p50 := map[string]float64{}
		for _, m := range modes {
			p50[m.name] = res.Metrics["response_p50_ms_"+m.name].Value
		}
		if p, s, ok := p50[Parallel], p50[Serial], true; ok && len(modes) == 3 && !(p50[MQ] < p && p < s) {
			res.Notes = append(res.Notes, fmt.Sprintf("expected response p50 mq < parallel < serial, got mq %.2f ms, parallel %.2f ms, serial %.2f ms", p50[MQ], p, s))
		}
	}
	return res
}
