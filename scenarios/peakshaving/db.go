package peakshaving

import (
	"context"
	"fmt"

	"github.com/mqbench/mqbench/scenarios/store"
)

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

// finalState is the sale database's end state, the authority on what was
// sold.
type finalState struct {
	stock, sold, processed int64
}

// final reads the end state.
func final(ctx context.Context, db *store.DB) (finalState, error) {
	var f finalState
	err := db.QueryRowContext(ctx, `SELECT (SELECT n FROM stock WHERE id = 1), (SELECT count(*) FROM sales), (SELECT count(*) FROM requests)`).Scan(&f.stock, &f.sold, &f.processed)
	return f, err
}
