package decoupling

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/envelope"
	"github.com/mqbench/mqbench/scenarios/internal/svc"
	"github.com/mqbench/mqbench/scenarios/probe"
	"github.com/mqbench/mqbench/scenarios/store"
)

// sku is the one product every order takes one unit of.
const sku = "sku-1"

// inventory is the inventory service's state: its own database with
// the stock and a deductions table keyed by order id, so an order is
// deducted at most once however often it is delivered. Safe for concurrent
// use.
type inventory struct {
	db    *store.DB
	pacer *svc.Pacer

	stats inventoryStats

	// counted holds the orders counted in applied. A commit can succeed on
	// the server and still return an error to a consumer killed mid-call
	// (the simulated outage cancels its context); the redelivery then finds
	// the order deducted, and counts it here, so the backlog (accepted
	// minus applied) still drains to zero.
	counted sync.Map // order id -> struct{}
}

// count adds order to applied once, however often it is reported.
func (inv *inventory) count(order int64) {
	if _, dup := inv.counted.LoadOrStore(order, struct{}{}); !dup {
		inv.stats.applied.Add(1)
	}
}

const inventorySchema = `CREATE TABLE IF NOT EXISTS stock (
	sku TEXT PRIMARY KEY,
	n   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deductions (
	order_id INTEGER PRIMARY KEY,
	qty      INTEGER NOT NULL,
	at_ns    INTEGER NOT NULL
)`

// openInventory opens logical database name of dbs with initial units of
// stock and a capacity of perSecond deductions per second (0 = unlimited).
func openInventory(ctx context.Context, dbs *store.Opener, name string, initial int64, perSecond float64) (*inventory, error) {
	db, err := dbs.Open(ctx, name, inventorySchema)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO stock (sku, n) VALUES (?, ?) ON CONFLICT (sku) DO UPDATE SET n = excluded.n`, sku, initial); err != nil {
		db.Close()
		return nil, fmt.Errorf("initial stock: %w", err)
	}
	return &inventory{db: db, pacer: svc.NewPacer(perSecond)}, nil
}

// deduct takes one unit for order in one local transaction, after waiting
// for the service's capacity. It reports whether this call applied the
// deduction (false: the order was deducted before).
func (inv *inventory) deduct(ctx context.Context, order int64) (bool, error) {
	if err := inv.pacer.Wait(ctx); err != nil {
		return false, err
	}
	tx, err := inv.db.BeginTx(ctx, nil)
	if err != nil {
		inv.stats.errs.Add(1)
		return false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO deductions (order_id, qty, at_ns) VALUES (?, 1, ?) ON CONFLICT (order_id) DO NOTHING`, order, time.Now().UnixNano())
	if err != nil {
		inv.stats.errs.Add(1)
		return false, fmt.Errorf("record deduction of order %d: %w", order, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		inv.stats.dupes.Add(1)
		inv.count(order) // deducted by a call whose commit reported an error
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE stock SET n = n - 1 WHERE sku = ?`, sku); err != nil {
		inv.stats.errs.Add(1)
		return false, fmt.Errorf("deduct order %d: %w", order, err)
	}
	if err := tx.Commit(); err != nil {
		inv.stats.errs.Add(1)
		return false, fmt.Errorf("commit order %d: %w", order, err)
	}
	inv.count(order)
	return true, nil
}

// final reads the stock left and the ids of every deducted order.
func (inv *inventory) final(ctx context.Context) (stock int64, deducted map[int64]bool, err error) {
	if err := inv.db.QueryRowContext(ctx, `SELECT n FROM stock WHERE sku = ?`, sku).Scan(&stock); err != nil {
		return 0, nil, fmt.Errorf("read stock: %w", err)
	}
	rows, err := inv.db.QueryContext(ctx, `SELECT order_id FROM deductions`)
	if err != nil {
		return 0, nil, fmt.Errorf("read deductions: %w", err)
	}
	defer rows.Close()
	deducted = map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, nil, fmt.Errorf("read deductions: %w", err)
		}
		deducted[id] = true
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("read deductions: %w", err)
	}
	return stock, deducted, nil
}

// httpInventory serves the inventory over HTTP on loopback for the direct
// mode: POST /deduct?order=ID answers 200 once the deduction is committed
// (or was already), 500 on a database error. Stop closes the listener and
// every connection, so calls fail with "connection refused" until Start.
type httpInventory struct {
	inv *inventory

	mu   sync.Mutex
	srv  *http.Server
	addr string // last address served, reused on restart
	url  atomic.Pointer[string]
	done chan struct{}
}

// Start listens on the previous address (or a free loopback port the first
// time, or when the previous one cannot be bound again) and serves.
func (h *httpInventory) Start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		return nil
	}
	var ln net.Listener
	var err error
	if h.addr != "" {
		for range 10 { // the old socket may take a moment to go
			if ln, err = net.Listen("tcp", h.addr); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("inventory listen: %w", err)
		}
	}
	h.addr = ln.Addr().String()
	u := "http://" + h.addr + "/deduct"
	h.url.Store(&u)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /deduct", h.serveDeduct)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns http.ErrServerClosed on Stop
	}()
	h.srv, h.done = srv, done
	return nil
}

// Stop closes the server as if the process died: in-flight calls fail.
func (h *httpInventory) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv == nil {
		return
	}
	h.srv.Close()
	<-h.done
	h.srv = nil
}

func (h *httpInventory) serveDeduct(w http.ResponseWriter, r *http.Request) {
	order, err := strconv.ParseInt(r.URL.Query().Get("order"), 10, 64)
	if err != nil || order <= 0 {
		http.Error(w, "order: want a positive integer", http.StatusBadRequest)
		return
	}
	applied, err := h.inv.deduct(r.Context(), order)
	if err != nil {
		http.Error(w, "inventory: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if applied {
		w.Write([]byte("deducted\n"))
	} else {
		w.Write([]byte("already deducted\n"))
	}
}

// errDown is the failure of an order whose inventory call did not succeed.
var errDown = errors.New("inventory unavailable")

// call asks the inventory to deduct order, bounded by client's timeout.
func (h *httpInventory) call(ctx context.Context, client *http.Client, order int64) error {
	u := h.url.Load()
	if u == nil {
		return fmt.Errorf("%w: never started", errDown)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *u+"?order="+strconv.FormatInt(order, 10), nil)
	if err != nil {
		return fmt.Errorf("inventory request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errDown, err)
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: HTTP %d %s", errDown, resp.StatusCode, bytes.TrimSpace(msg))
	}
	if err != nil {
		return fmt.Errorf("%w: reading the answer: %w", errDown, err)
	}
	return nil
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
