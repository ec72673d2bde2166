package peakshaving

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// isURL reports whether s looks like a database URL (scheme://...) rather
// than a file path.
func isURL(s string) bool { return strings.Contains(s, "://") }

// dbPath returns the SQLite file for setting (a path, or empty for the
// default name in workDir).
func dbPath(setting, workDir, name string) string {
	if setting == "" {
		return filepath.Join(workDir, name)
	}
	return setting
}

// openFresh opens a new, empty SQLite database at path (an existing file and
// its WAL companions are removed first: every run starts from a known
// state). WAL journal with synchronous=NORMAL: a commit survives a crash of
// this process, not necessarily a power loss. One connection serialises the
// transactions of every goroutine, so SQLITE_BUSY cannot occur.
func openFresh(ctx context.Context, path string) (*sql.DB, error) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("remove old database %s: %w", path+suffix, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}
