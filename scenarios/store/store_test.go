package store

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string
	}{
		{"", ""},
		{"postgres://u:p@127.0.0.1:5432/db", "PostgreSQL is not implemented"},
		{"postgresql://127.0.0.1/db", "PostgreSQL is not implemented"},
		{"mysql://127.0.0.1/db", "unsupported database URL scheme"},
		{"://bad", "not a URL"},
	}
	for _, tt := range tests {
		err := CheckURL(tt.url)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckURL(%q) = %v, want error containing %q", tt.url, err, tt.wantErr)
		}
	}
}

func TestOpenConcurrentWriters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, t.TempDir(), "t.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, err := db.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?)", w*1000+i, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 400 {
		t.Fatalf("rows = %d, want 400", n)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

func TestOpenBadSchema(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, t.TempDir(), "t.db", "CREATE TABLEX nonsense"); err == nil {
		t.Fatal("want error for a bad schema")
	}
	if _, err := Open(ctx, "/nonexistent/dir/for/sure", "t.db", ""); err == nil {
		t.Fatal("want error for a missing directory")
	}
}
