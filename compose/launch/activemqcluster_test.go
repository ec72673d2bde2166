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
