package launch

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLastLockLine: the lock message counts only since the process last
// started; a line from before a restart says nothing about the node now.
func TestLastLockLine(t *testing.T) {
	const (
		start = "2026-12-03 16:17:56,100 | INFO  | Using Persistence Adapter: KahaDBPersistenceAdapter[/x/kahadb] | org.apache.activemq.broker.BrokerService | main\n"
		lock  = "2026-12-03 16:18:02,679 | INFO  | Database /x/kahadb/lock is locked by another server. This broker is now in slave mode waiting a lock to be acquired | org.apache.activemq.store.SharedFileLocker | main\n"
		other = "2026-12-03 16:18:03,000 | INFO  | something else | logger | main\n"
		msg   = "Database /x/kahadb/lock is locked by another server. This broker is now in slave mode waiting a lock to be acquired"
	)
	for _, tt := range []struct {
		name, log, want string
	}{
		{"no log line", "", ""},
		{"lock since the start", start + lock + other, msg},
		{"lock before the last start", start + lock + start + other, ""},
		{"lock again after a restart", start + lock + start + lock, msg},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "activemq.log")
			if err := os.WriteFile(p, []byte(tt.log), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := lastLockLine(p); got != tt.want {
				t.Errorf("lastLockLine = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSetAside: a node's log is set aside before its process starts, so
// a lock line of the dead process is not read as the new one's role; a
// missing log is no error, and an older set-aside log is replaced.
func TestSetAside(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "activemq.log")
	if err := setAside(p); err != nil {
		t.Fatalf("set aside a missing log: %v", err)
	}
	line := "2026-12-03 16:18:02,679 | INFO  | Database /x/kahadb/lock is locked by another server. This broker is now in slave mode waiting a lock to be acquired | l | main\n"
	for i := range 2 {
		if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		if lastLockLine(p) == "" {
			t.Fatal("the test's lock line is not read")
		}
		if err := setAside(p); err != nil {
			t.Fatalf("set aside %d: %v", i, err)
		}
		if got := lastLockLine(p); got != "" {
			t.Errorf("after set aside %d the role still reads %q", i, got)
		}
		if _, err := os.Stat(p + ".prev"); err != nil {
			t.Errorf("the previous log is not kept: %v", err)
		}
	}
}
