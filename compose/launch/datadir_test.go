package launch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDataDirAndSize(t *testing.T) {
	l, err := New(Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dir, ok := l.DataDir("rabbitmq")
	if !ok || dir != filepath.Join(l.Home(), "rabbitmq", "data") {
		t.Fatalf("DataDir(rabbitmq) = %q, %v", dir, ok)
	}
	if _, ok := l.DataDir("nosuchbroker"); ok {
		t.Fatal("DataDir of an unknown broker")
	}
	if _, ok := DirSize(dir); ok {
		t.Fatal("DirSize of a missing directory reported ok")
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"a": 100, "sub/b": 23} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if got, ok := DirSize(dir); !ok || got != 123 {
		t.Fatalf("DirSize = %d, %v; want 123, true", got, ok)
	}
}
