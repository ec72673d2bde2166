// Package store opens the real databases the scenarios' simulated services
// use: embedded SQLite (modernc.org/sqlite, pure Go, driver name "sqlite") in
// the run's work directory. It is shared by every scenario that keeps state
// (async, decoupling, peakshaving, transaction).
//
// PostgreSQL is not implemented: CheckURL rejects a postgres URL with a clear
// message, so a workload file that asks for it fails validation instead of
// silently running on SQLite.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// BusyTimeout is how long a statement waits for a lock held by another
// connection before it fails with SQLITE_BUSY.
const BusyTimeout = 10 * time.Second

// CheckURL validates a scenario's database_url setting. The empty string
// (embedded SQLite in the run's work directory) is the only supported value;
// a postgres:// or postgresql:// URL is rejected because PostgreSQL support is
// not implemented, and anything else is rejected as unknown. The returned
// message is meant for a *scenarios.FieldError.
func CheckURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		return fmt.Errorf("PostgreSQL is not implemented in this version of mqbench; leave database_url empty to use embedded SQLite")
	default:
		return fmt.Errorf("unsupported database URL scheme %q; leave database_url empty to use embedded SQLite", u.Scheme)
	}
}

// Open opens (creating if needed) the SQLite database dir/name and applies
// schema (one or more statements separated by ';'), bounded by ctx.
//
// The database runs in WAL mode with synchronous=NORMAL (a commit is durable
// against a process crash, and against power loss up to the last
// checkpoint, the common production setting for SQLite) and a busy timeout
// of BusyTimeout. The pool holds one connection, so writers from many
// goroutines queue in Go rather than failing with SQLITE_BUSY; the returned
// *sql.DB is safe for concurrent use. The caller closes it.
func Open(ctx context.Context, dir, name, schema string) (*sql.DB, error) {
	path := filepath.Join(dir, name)
	dsn := "file:" + path + "?_pragma=busy_timeout(" + fmt.Sprint(BusyTimeout.Milliseconds()) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if strings.TrimSpace(schema) != "" {
		if _, err := db.ExecContext(ctx, schema); err != nil {
			db.Close()
			return nil, fmt.Errorf("schema of %s: %w", path, err)
		}
	}
	return db, nil
}
