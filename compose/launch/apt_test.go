package launch

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAptWaitsForTheDpkgLock: a fresh machine runs its automatic updates at
// boot, so every apt-get the project runs (the CI scripts and the native
// launcher) must wait for the dpkg lock with a bound instead of failing at
// once.
func TestAptWaitsForTheDpkgLock(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", ".ci", "*.sh"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CI scripts found: %v", err)
	}
	files = append(files, "deps.go")
	// A command position: apt-get at the start of a line, after an
	// assignment's "(" or a pipe, or as exec.Command's program.
	call := regexp.MustCompile(`(^|[(|&;]\s*|exec\.CommandContext\(ctx, )"?apt-get"?\b`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for i, line := range strings.Split(text, "\n") {
			code := strings.TrimSpace(line)
			if strings.HasPrefix(code, "#") || strings.HasPrefix(code, "//") || !call.MatchString(code) {
				continue
			}
			if f == "deps.go" {
				continue // its arguments are checked below
			}
			if !strings.Contains(code, "DPkg::Lock::Timeout=") {
				t.Errorf("%s:%d: apt-get without DPkg::Lock::Timeout: %s", f, i+1, code)
			}
		}
		if f == "deps.go" && strings.Count(text, `"DPkg::Lock::Timeout=`) < 2 {
			t.Errorf("deps.go: the launcher's apt-get install and update must both pass DPkg::Lock::Timeout")
		}
	}
}
