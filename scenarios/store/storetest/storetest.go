// Package storetest gives tests the PostgreSQL server named by
// MQBENCH_POSTGRES_URL (.ci/postgres.sh starts a private one), following the
// project's convention for external services: absent, the test is skipped;
// absent with MQBENCH_REQUIRE_BROKERS=1, it fails.
package storetest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// EnvURL is the environment variable that names the PostgreSQL database the
// tests use, e.g. postgres://postgres@127.0.0.1:15432/mqbench?sslmode=disable.
const EnvURL = "MQBENCH_POSTGRES_URL"

// timeout bounds each of the helper's own round trips to the server.
const timeout = 10 * time.Second

// PostgresURL returns $MQBENCH_POSTGRES_URL once a connection to it has
// succeeded. When the variable is unset or the server does not answer
// within 10 s, the test is skipped, or fails when MQBENCH_REQUIRE_BROKERS=1.
// When the test ends, the schemas that store.NewOpener made for runID
// (mqbRRRRRRRR_*, RRRRRRRR the low 32 bits of runID in hex) are dropped.
func PostgresURL(t testing.TB, runID uint64) string {
	t.Helper()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		absent(t, EnvURL+" not set (.ci/postgres.sh start; then export the line of .ci/postgres.sh env)")
	}
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	cfg.ConnectTimeout = timeout
	db := stdlib.OpenDB(*cfg)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		absent(t, fmt.Sprintf("PostgreSQL at %s:%d/%s not reachable: %v", cfg.Host, cfg.Port, cfg.Database, err))
	}
	t.Cleanup(func() {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		rows, err := db.QueryContext(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, fmt.Sprintf("mqb%08x_", uint32(runID)))
		if err != nil {
			t.Errorf("list the test's schemas: %v", err)
			return
		}
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Errorf("list the test's schemas: %v", err)
			}
			names = append(names, n)
		}
		rows.Close()
		for _, n := range names {
			if _, err := db.ExecContext(ctx, "DROP SCHEMA "+pgx.Identifier{n}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", n, err)
			}
		}
	})
	return raw
}

func absent(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("MQBENCH_REQUIRE_BROKERS") == "1" {
		t.Fatalf("%s; required when MQBENCH_REQUIRE_BROKERS=1", why)
	}
	t.Skip(why)
}
