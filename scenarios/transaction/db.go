package transaction

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mqbench/mqbench/scenarios/store"
)

// The order database: paid orders, the message table (outbox) and the
// history of orders whose stock deduction was confirmed.
var orderSchema = []string{
	`DROP TABLE IF EXISTS orders`,
	`DROP TABLE IF EXISTS outbox`,
	`DROP TABLE IF EXISTS history`,
	`CREATE TABLE orders (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, created_ns INTEGER NOT NULL)`,
	// sent: the broker confirmed the last publish; attempts and last_ns
	// are written before each publish.
	`CREATE TABLE outbox (order_id INTEGER PRIMARY KEY, attempts INTEGER NOT NULL DEFAULT 0,
		last_ns INTEGER NOT NULL DEFAULT 0, sent INTEGER NOT NULL DEFAULT 0)`,
	`CREATE TABLE history (order_id INTEGER PRIMARY KEY, created_ns INTEGER NOT NULL,
		done_ns INTEGER NOT NULL, attempts INTEGER NOT NULL)`,
}

// The inventory database: stock, the processed-messages table keyed by order
// id (the idempotency key) and a log of every deduction applied, kept without
// a unique constraint so that a double deduction would show.
var inventorySchema = []string{
	`DROP TABLE IF EXISTS stock`,
	`DROP TABLE IF EXISTS processed`,
	`DROP TABLE IF EXISTS deductions`,
	`CREATE TABLE stock (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`,
	`CREATE TABLE processed (order_id INTEGER PRIMARY KEY, outcome INTEGER NOT NULL, processed_ns INTEGER NOT NULL)`,
	`CREATE TABLE deductions (order_id INTEGER NOT NULL, qty INTEGER NOT NULL, applied_ns INTEGER NOT NULL)`,
}

// Result outcomes carried in stock.result bodies.
const (
	outcomeSuccess      byte = 1 // deducted (now or before)
	outcomeFailed       byte = 2 // processing failed; the relay resends
	outcomeInsufficient byte = 3 // not enough stock
)

// placeOrder writes the paid order and its message-table row in one local
// transaction (withOutbox false: the order only, for native mode).
func placeOrder(ctx context.Context, db *store.DB, id int64, createdNs int64, withOutbox bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, qty, created_ns) VALUES (?, 1, ?)`, id, createdNs); err != nil {
		return err
	}
	if withOutbox {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (order_id) VALUES (?)`, id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// pendingRow is an outbox row due for (re)publishing.
type pendingRow struct {
	id       int64
	attempts int64
}

// duePending returns up to limit outbox rows never confirmed or whose last
// attempt is at or before staleNs, oldest order first, and records the
// attempt (attempts+1, last_ns = nowNs) in the same transaction, before
// anything is published.
func duePending(ctx context.Context, db *store.DB, staleNs, nowNs int64, limit int) ([]pendingRow, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT order_id, attempts FROM outbox WHERE sent = 0 OR last_ns <= ? ORDER BY order_id LIMIT ?`, staleNs, limit)
	if err != nil {
		return nil, err
	}
	var out []pendingRow
	for rows.Next() {
		var r pendingRow
		if err := rows.Scan(&r.id, &r.attempts); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, r := range out {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_ns = ? WHERE order_id = ?`, nowNs, r.id); err != nil {
			return nil, err
		}
	}
	return out, tx.Commit()
}

// markSent records that the broker confirmed the publish of ids.
func markSent(ctx context.Context, db *store.DB, ids []int64) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET sent = 1 WHERE order_id = ?`, id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// confirmOrder moves order id from the message table to the history in one
// transaction. moved is false when the history already had it (a duplicate
// result); createdNs is the order's commit time.
func confirmOrder(ctx context.Context, db *store.DB, id, doneNs int64) (moved bool, createdNs int64, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT created_ns FROM orders WHERE id = ?`, id).Scan(&createdNs); err != nil {
		return false, 0, fmt.Errorf("order %d: %w", id, err)
	}
	var attempts int64
	err = tx.QueryRowContext(ctx, `SELECT attempts FROM outbox WHERE order_id = ?`, id).Scan(&attempts)
	if err != nil && err != sql.ErrNoRows {
		return false, 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE order_id = ?`, id); err != nil {
		return false, 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO history (order_id, created_ns, done_ns, attempts) VALUES (?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING`, id, createdNs, doneNs, attempts)
	if err != nil {
		return false, 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, 0, err
	}
	return n == 1, createdNs, tx.Commit()
}

// orderExists is the native mode's check-back: the local transaction
// committed iff the order row exists.
func orderExists(ctx context.Context, db *store.DB, id int64) (bool, error) {
	var n int64
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}

// deduct applies order id to the inventory in one local transaction: it
// records the order in the processed-messages table and deducts qty only if
// the order is new. first is false for an order processed before (nothing
// changed); outcome is the recorded outcome. With fail set, the work is done
// and then rolled back, as a crash before commit.
func deduct(ctx context.Context, db *store.DB, id, qty, nowNs int64, fail bool) (first bool, outcome byte, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO processed (order_id, outcome, processed_ns) VALUES (?, ?, ?) ON CONFLICT (order_id) DO NOTHING`, id, outcomeSuccess, nowNs)
	if err != nil {
		return false, 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, 0, err
	}
	if n == 0 {
		if err := tx.QueryRowContext(ctx, `SELECT outcome FROM processed WHERE order_id = ?`, id).Scan(&outcome); err != nil {
			return false, 0, err
		}
		if fail {
			return false, 0, errInjected
		}
		return false, outcome, nil
	}
	res, err = tx.ExecContext(ctx, `UPDATE stock SET n = n - ? WHERE id = 1 AND n >= ?`, qty, qty)
	if err != nil {
		return false, 0, err
	}
	if n, err = res.RowsAffected(); err != nil {
		return false, 0, err
	}
	outcome = outcomeSuccess
	if n == 0 {
		outcome = outcomeInsufficient
		if _, err := tx.ExecContext(ctx, `UPDATE processed SET outcome = ? WHERE order_id = ?`, outcome, id); err != nil {
			return false, 0, err
		}
	} else if _, err := tx.ExecContext(ctx, `INSERT INTO deductions (order_id, qty, applied_ns) VALUES (?, ?, ?)`, id, qty, nowNs); err != nil {
		return false, 0, err
	}
	if fail {
		return false, 0, errInjected
	}
	return true, outcome, tx.Commit()
}

// finalState is what the two databases hold at the end.
type finalState struct {
	orders, outbox, history                    int64
	stock, deductions, deductedOrders, applied int64
	missing, extra                             int64 // orders never deducted; deductions of unknown orders
}

func readFinal(ctx context.Context, odb, idb *store.DB) (finalState, error) {
	var f finalState
	if err := odb.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM outbox), (SELECT count(*) FROM history)`).Scan(&f.orders, &f.outbox, &f.history); err != nil {
		return f, fmt.Errorf("order database: %w", err)
	}
	if err := idb.QueryRowContext(ctx, `SELECT (SELECT n FROM stock WHERE id = 1), (SELECT count(*) FROM deductions), (SELECT count(DISTINCT order_id) FROM deductions), (SELECT coalesce(sum(qty), 0) FROM deductions)`).Scan(&f.stock, &f.deductions, &f.deductedOrders, &f.applied); err != nil {
		return f, fmt.Errorf("inventory database: %w", err)
	}
	orders, err := idSet(ctx, odb, `SELECT id FROM orders`)
	if err != nil {
		return f, fmt.Errorf("order database: %w", err)
	}
	deducted, err := idSet(ctx, idb, `SELECT DISTINCT order_id FROM deductions`)
	if err != nil {
		return f, fmt.Errorf("inventory database: %w", err)
	}
	for id := range orders {
		if _, ok := deducted[id]; !ok {
			f.missing++
		}
	}
	for id := range deducted {
		if _, ok := orders[id]; !ok {
			f.extra++
		}
	}
	return f, nil
}

func idSet(ctx context.Context, db *store.DB, q string) (map[int64]struct{}, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]struct{}{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = struct{}{}
	}
	return out, rows.Err()
}
