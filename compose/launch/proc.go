package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procSpec is one OS process of a broker.
type procSpec struct {
	name    string   // process role: "kafka", "namesrv", "broker", ...
	pidFile string   // relative to the broker directory
	markers []string // substrings its /proc/<pid>/cmdline must contain
}

// readPID returns the pid recorded in a pid file, 0 when absent or garbage.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// writeFileAtomic writes data to path through a temporary file and rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// processAlive reports whether pid exists, is not a zombie and its command
// line contains every marker (which guards against a recycled pid).
func processAlive(pid int, markers []string) bool {
	if pid <= 1 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	for _, m := range markers {
		if !bytes.Contains(cmdline, []byte(m)) {
			return false
		}
	}
	return true
}

// spawn starts argv detached in its own session with stdout and stderr
// appended to logPath, records its pid in pidPath and returns the pid. The
// process outlives ctx and mqbench; a goroutine reaps it if it exits while
// this process lives.
func spawn(dir, logPath, pidPath string, env, argv []string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return 0, fmt.Errorf("create log dir: %w", err)
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	fmt.Fprintf(f, "\n==== %s mqbench start: %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	awaitCmdline(pid, time.Second)
	if err := writeFileAtomic(pidPath, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return 0, err
	}
	return pid, nil
}

// awaitCmdline waits up to d until /proc/<pid>/cmdline is readable and
// non-empty. Linux resumes a vfork parent before the new program's argv is
// mapped, so for a moment after cmd.Start the command line reads empty and
// processAlive would call a healthy new process dead.
func awaitCmdline(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) > 0 {
			return // gone, or argv visible
		}
		time.Sleep(time.Millisecond)
	}
}

// signalProc signals pid's process group when pid leads it (so helper
// children go too), else pid alone.
func signalProc(pid int, sig syscall.Signal) error {
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		if err := syscall.Kill(-pid, sig); err == nil || errors.Is(err, syscall.ESRCH) {
			return nil
		}
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	return nil
}

// waitGone polls until pid is no longer alive, ctx ends or d passes.
func waitGone(ctx context.Context, pid int, markers []string, d time.Duration) bool {
	errAlive := fmt.Errorf("process %d alive", pid)
	_ = poll(ctx, d, 100*time.Millisecond, func() error {
		if processAlive(pid, markers) {
			return errAlive
		}
		return nil
	})
	return !processAlive(pid, markers)
}

// stopPID stops pid gracefully (SIGTERM, or SIGKILL at once when kill is
// set), escalating to SIGKILL after grace, and waits until it is gone.
func stopPID(ctx context.Context, pid int, markers []string, grace time.Duration, kill bool) error {
	if !kill {
		if err := signalProc(pid, syscall.SIGTERM); err != nil {
			return err
		}
		if waitGone(ctx, pid, markers, grace) {
			return nil
		}
	}
	if err := signalProc(pid, syscall.SIGKILL); err != nil {
		return err
	}
	if waitGone(context.WithoutCancel(ctx), pid, markers, 15*time.Second) {
		return nil
	}
	return fmt.Errorf("process %d still alive 15 s after SIGKILL", pid)
}

// portBusy reports whether something accepts TCP connections on
// host:port (bounded to one second).
func portBusy(ctx context.Context, host string, port int) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitPortsFree polls until no port accepts connections or d passes, and
// returns the ports still busy.
func waitPortsFree(ctx context.Context, host string, ports []int, d time.Duration) []int {
	var busy []int
	_ = poll(ctx, d, 200*time.Millisecond, func() error {
		busy = busy[:0]
		for _, p := range ports {
			if portBusy(ctx, host, p) {
				busy = append(busy, p)
			}
		}
		if len(busy) > 0 {
			return fmt.Errorf("ports %v busy", busy)
		}
		return nil
	})
	return busy
}

// tailFile returns the last n lines of path (reading at most its last
// 64 KiB), "" when it cannot be read.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxRead = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - maxRead
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && len(buf) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lock takes an exclusive flock on <home>/.lock, polling until ctx ends or
// 10 minutes pass, and returns the release function.
func (l *Launcher) lock(ctx context.Context) (func(), error) {
	if err := os.MkdirAll(l.home, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(l.home, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another mqbench holds %s for over 10 minutes", f.Name())
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", f.Name(), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
