package store

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqbench/mqbench/scenarios/store/storetest"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string
	}{
		{"", ""},
		{"postgres://u:p@127.0.0.1:5432/db", ""},
		{"postgresql://127.0.0.1/db?sslmode=disable&connect_timeout=3", ""},
		{"POSTGRES://127.0.0.1/db", ""},
		{"postgres://127.0.0.1:notaport/db", "not a URL"},
		{"postgres://u:secret@127.0.0.1/db?sslmode=bogus", "bad PostgreSQL URL"},
		{"postgres://u:secret@127.0.0.1:99999999/db", "bad PostgreSQL URL"},
		{"mysql://127.0.0.1/db", `unsupported database URL scheme "mysql"`},
		{"/tmp/x.db", "not a URL"},
		{"://bad", "not a URL"},
	}
	for _, tt := range tests {
		err := CheckURL(tt.url)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckURL(%q) = %v, want error containing %q", tt.url, err, tt.wantErr)
		case err != nil && (strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "secret")):
			t.Errorf("CheckURL(%q) = %q, want one line without the password", tt.url, err)
		}
	}
}

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT n FROM t WHERE id = ?", "SELECT n FROM t WHERE id = $1"},
		{"INSERT INTO t (a, b, c) VALUES (?, ?,?)", "INSERT INTO t (a, b, c) VALUES ($1, $2,$3)"},
		{"UPDATE t SET s = 'a?b', n = ? WHERE id = ?", "UPDATE t SET s = 'a?b', n = $1 WHERE id = $2"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{`SELECT "odd?col" FROM t WHERE x = ?`, `SELECT "odd?col" FROM t WHERE x = $1`},
		{"SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"SELECT ? /* ? */, ?", "SELECT $1 /* ? */, $2"},
		{"SELECT 5 - ?, 6 / ?", "SELECT 5 - $1, 6 / $2"},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?"},
		{"SELECT ? -- trailing ?", "SELECT $1 -- trailing ?"},
		{"?,?,?,?,?,?,?,?,?,?,?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11"},
	}
	for _, tt := range tests {
		if got := rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPGTypes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"CREATE TABLE t (id INTEGER PRIMARY KEY, n integer NOT NULL)", "CREATE TABLE t (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)"},
		{"CREATE TABLE t (integer_count INTEGER, nINTEGER TEXT)", "CREATE TABLE t (integer_count BIGINT, nINTEGER TEXT)"},
		{`CREATE TABLE "INTEGER" (s TEXT DEFAULT 'INTEGER') -- INTEGER`, `CREATE TABLE "INTEGER" (s TEXT DEFAULT 'INTEGER') -- INTEGER`},
		{"DROP TABLE IF EXISTS t;\nCREATE TABLE t (v INTEGER)", "DROP TABLE IF EXISTS t;\nCREATE TABLE t (v BIGINT)"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := pgTypes(tt.in); got != tt.want {
			t.Errorf("pgTypes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSchemaName(t *testing.T) {
	o, err := NewOpener("postgres://127.0.0.1/db", "", 0x1234567890abcdef)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(o.tag, "mqb90abcdef_") || len(o.tag) != len("mqb90abcdef_12345678") {
		t.Fatalf("tag = %q", o.tag)
	}
	tests := []struct{ name, want, wantErr string }{
		{"async-users.db", o.tag + "_async_users", ""},
		{"Orders.DB", o.tag + "_orders", ""},
		{"decoupling-inventory-direct.db", o.tag + "_decoupling_inventory_direct", ""},
		{"a b;c", o.tag + "_a_b_c", ""},
		{".db", "", "want 1 to"},
		{strings.Repeat("x", 43), "", "want 1 to 42 characters"},
	}
	for _, tt := range tests {
		got, err := o.schemaName(tt.name)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("schemaName(%q) = %q, %v; want error containing %q", tt.name, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("schemaName(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	o2, _ := NewOpener("postgres://127.0.0.1/db", "", 0x1234567890abcdef)
	if o2.tag == o.tag {
		t.Errorf("two Openers of one run share tag %q", o.tag)
	}
}

// engines runs f on embedded SQLite and, when MQBENCH_POSTGRES_URL is set,
// on PostgreSQL.
func engines(t *testing.T, f func(t *testing.T, newOpener func() *Opener)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		f(t, func() *Opener {
			o, err := NewOpener("", dir, 1)
			if err != nil {
				t.Fatal(err)
			}
			return o
		})
	})
	t.Run("postgres", func(t *testing.T) {
		runID := uint64(time.Now().UnixNano())
		url := storetest.PostgresURL(t, runID)
		f(t, func() *Opener {
			o, err := NewOpener(url, "", runID)
			if err != nil {
				t.Fatal(err)
			}
			return o
		})
	})
}

func open(t *testing.T, ctx context.Context, o *Opener, name, schema string) *DB {
	t.Helper()
	db, err := o.Open(ctx, name, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConcurrentWriters: many goroutines insert, and sell from a stock of 100
// with a conditional update inside a transaction; nothing is lost and
// nothing oversold.
func TestConcurrentWriters(t *testing.T) {
	engines(t, func(t *testing.T, newOpener func() *Opener) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// INTEGER: 64 bits on both engines (v holds values above 2^40).
		db := open(t, ctx, newOpener(), "t.db", `CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
			CREATE TABLE stock (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
			INSERT INTO stock (id, n) VALUES (1, 100)`)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() {
				for i := range 50 {
					id := int64(w*1000 + i)
					if _, err := db.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", id, int64(1)<<40+id); err != nil {
						errs <- err
						return
					}
					if err := sell(ctx, db); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var n, sum, stock int64
		if err := db.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(v), 0), (SELECT n FROM stock WHERE id = ?) FROM t", 1).Scan(&n, &sum, &stock); err != nil {
			t.Fatal(err)
		}
		if n != 400 || stock != 0 {
			t.Fatalf("rows = %d, stock = %d; want 400 rows and the stock sold out, never below 0", n, stock)
		}
		// ids w*1000+i for w < 8, i < 50: Σw = 28, Σi = 1225.
		if want := int64(400)<<40 + 28*1000*50 + 8*1225; sum != want {
			t.Fatalf("sum = %d, want %d (64-bit values)", sum, want)
		}
	})
}

// sell takes one unit if any is left, the way the scenarios deduct stock.
func sell(ctx context.Context, db *DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE stock SET n = n - 1 WHERE id = ? AND n > 0", 1); err != nil {
		return err
	}
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT n FROM stock WHERE id = ?", 1).Scan(&n); err != nil {
		return err
	}
	if n < 0 {
		return errors.New("oversold")
	}
	return tx.Commit()
}

// TestIsolation: a name opened twice with one Opener is the same data; the
// same name of another Opener (another run) and another name are not.
func TestIsolation(t *testing.T) {
	engines(t, func(t *testing.T, newOpener func() *Opener) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		const schema = "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"
		o := newOpener()
		a := open(t, ctx, o, "a.db", schema)
		if _, err := a.ExecContext(ctx, "INSERT INTO kv (k, v) VALUES (?, ?)", "x", 1); err != nil {
			t.Fatal(err)
		}
		count := func(db *DB) int {
			t.Helper()
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM kv WHERE k = ?", "x").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(open(t, ctx, o, "a.db", schema)); n != 1 {
			t.Errorf("reopened a.db holds %d rows, want 1", n)
		}
		if n := count(open(t, ctx, o, "b.db", schema)); n != 0 {
			t.Errorf("b.db holds %d rows of a.db", n)
		}
		if o.pg != nil {
			if n := count(open(t, ctx, newOpener(), "a.db", schema)); n != 0 {
				t.Errorf("another run's a.db holds %d rows of this run's", n)
			}
			var cur string
			if err := a.QueryRowContext(ctx, "SELECT current_schema()").Scan(&cur); err != nil {
				t.Fatal(err)
			}
			if want, _ := o.schemaName("a.db"); cur != want {
				t.Errorf("current_schema() = %q, want %q", cur, want)
			}
			if d := o.Describe(); !strings.Contains(d, o.tag) || strings.Contains(d, "password") {
				t.Errorf("Describe() = %q", d)
			}
		}
	})
}

func TestOpenErrors(t *testing.T) {
	engines(t, func(t *testing.T, newOpener func() *Opener) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := newOpener().Open(ctx, "t.db", "CREATE TABLEX nonsense"); err == nil {
			t.Fatal("want error for a bad schema")
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := NewOpener("", "/nonexistent/dir/for/sure", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Open(ctx, "t.db", ""); err == nil {
		t.Fatal("want error for a missing directory")
	}
}

func TestSQLiteSettings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o, err := NewOpener("", t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	db := open(t, ctx, o, "t.db", "")
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

// TestPostgresUnreachable: a refused connection and a server that never
// answers both fail Open promptly, naming the address.
func TestPostgresUnreachable(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var conns []net.Conn // held open, never answered
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()

	tests := []struct{ name, addr, query string }{
		{"refused", refusedAddr, "sslmode=disable"},
		{"refused, TLS then plain", refusedAddr, "sslmode=prefer"},
		{"silent", silent.Addr().String(), "sslmode=disable&connect_timeout=1"},
		// Not a PostgreSQL server: something else answers on the port.
		{"HTTP server", garbageListener(t, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), "sslmode=disable&connect_timeout=2"},
		{"HTTP server, TLS then plain", garbageListener(t, "HTTP/1.1 400 Bad Request\r\n\r\n"), "sslmode=prefer&connect_timeout=2"},
		{"SSH banner", garbageListener(t, "SSH-2.0-OpenSSH_9.6\r\n"), "sslmode=disable&connect_timeout=2"},
		{"binary noise", garbageListener(t, "\x00\xff\xfe\x01\x02\x03\x04\x05\x06\x07\x08"), "sslmode=disable&connect_timeout=2"},
		{"closes at once", garbageListener(t, ""), "sslmode=disable&connect_timeout=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOpener("postgres://u:secret@"+tt.addr+"/db?"+tt.query, "", 1)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = o.Open(context.Background(), "t.db", "")
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.addr+"/db") || strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q: want the address %s/db and no password", err, tt.addr)
			}
			if !errors.Is(err, ErrUnreachable) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line wrapping ErrUnreachable", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Open took %s", d)
			}
		})
	}
}

// garbageListener accepts connections, writes reply to each, and closes it:
// a server on the port that is not PostgreSQL.
func garbageListener(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 512)
				_, _ = c.Read(buf) // the startup or TLS request
				_, _ = c.Write([]byte(reply))
			}()
		}
	}()
	return ln.Addr().String()
}
