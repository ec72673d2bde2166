package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockName is the file that marks an output directory as in use by a run.
const lockName = ".mqbench-lock"

// claimOut makes dir ready to receive a run's results before anything
// connects, and reserves it: dir must be a directory or creatable, writable
// (the lock file is created in it), not in use by another mqbench process,
// and not already hold marker (result.json for a run, summary.json for a
// matrix): mqbench never overwrites a result. A lock left by a process that
// no longer exists is taken over. release removes the lock.
func claimOut(dir, marker string) (release func(), err error) {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("--out %s is not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s cannot be created: %w", dir, unwrapPath(err))
	}
	lock := filepath.Join(dir, lockName)
	f, err := createLock(lock)
	if err != nil {
		return nil, err
	}
	release = func() { os.Remove(lock) }
	// Checked under the lock, so that two runs cannot both see it absent.
	if _, err := os.Lstat(filepath.Join(dir, marker)); !errors.Is(err, fs.ErrNotExist) {
		f.Close()
		release()
		return nil, fmt.Errorf("--out %s already holds a result (%s): mqbench never overwrites one; choose another --out, or leave it out for a fresh directory", dir, marker)
	}
	if _, err := fmt.Fprintf(f, "%d\n", os.Getpid()); err != nil {
		f.Close()
		release()
		return nil, fmt.Errorf("--out %s is not writable: %w", dir, unwrapPath(err))
	}
	if err := f.Close(); err != nil {
		release()
		return nil, fmt.Errorf("--out %s is not writable: %w", dir, unwrapPath(err))
	}
	return release, nil
}

// createLock creates the lock file exclusively; a lock whose process is
// gone is removed and created again, once.
func createLock(lock string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			return f, nil
		}
		dir := filepath.Dir(lock)
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("--out %s is not writable: %w", dir, unwrapPath(err))
		}
		if attempt == 0 && staleLock(lock) {
			os.Remove(lock)
			continue
		}
		return nil, fmt.Errorf("--out %s is in use by another mqbench run (%s; remove it if no run is writing there)", dir, lock)
	}
}

// staleLock reports whether lock names a process that no longer exists.
func staleLock(lock string) bool {
	b, err := os.ReadFile(lock)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false // being written, or not ours: leave it
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// unwrapPath drops the *fs.PathError's own path, which the message names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// oneLine makes an error message fit one line: some clients (RabbitMQ's)
// embed newlines, which would split a console line or a result field.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
