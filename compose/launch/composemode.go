package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mqbench/mqbench/compose"
)

// ComposeArgs returns the docker arguments (without "docker") for a compose
// action ("up" or "down") on the named brokers: one profile per broker,
// project "mqbench". up waits for the health checks (bounded); down keeps the
// named volumes.
func ComposeArgs(file, action string, names []string) []string {
	args := []string{"compose", "-f", file, "-p", compose.Project}
	for _, n := range names {
		args = append(args, "--profile", n)
	}
	switch action {
	case "up":
		args = append(args, "up", "-d", "--wait", "--wait-timeout", "300")
	case "down":
		args = append(args, "down")
	default:
		args = append(args, action)
	}
	return args
}

// composeProfiles names the compose profiles of brokers in topology t:
// the broker's name, or <name>-cluster for its cluster.
func composeProfiles(names []string, t Topology) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if t == TopologyCluster {
			out[i] = n + "-cluster"
		}
	}
	return out
}

// composeFile returns Options.ComposeFile, or writes the embedded file to
// <home>/compose/docker-compose.yml and returns that path.
func (l *Launcher) composeFile() (string, error) {
	if l.opts.ComposeFile != "" {
		return l.opts.ComposeFile, nil
	}
	p := filepath.Join(l.home, "compose", "docker-compose.yml")
	if err := writeFileAtomic(p, compose.File(), 0o644); err != nil {
		return "", err
	}
	return p, nil
}

func (l *Launcher) runCompose(ctx context.Context, action string, names []string, w *syncWriter) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return errors.New("compose mode needs Docker with the compose plugin (docker not found on PATH): install it, or use --mode native")
	}
	vctx, vcancel := context.WithTimeout(ctx, 10*time.Second)
	verr := exec.CommandContext(vctx, "docker", "compose", "version").Run()
	vcancel()
	if verr != nil {
		return fmt.Errorf("compose mode needs the Docker Compose v2 plugin (`docker compose version` failed: %v): install it, or use --mode native", verr)
	}
	file, err := l.composeFile()
	if err != nil {
		return err
	}
	args := ComposeArgs(file, action, composeProfiles(names, l.opts.Topology))
	w.printf("docker %s", strings.Join(args, " "))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = os.Environ()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker compose %s: %w", action, err)
	}
	return nil
}

func (l *Launcher) composeUp(ctx context.Context, names []string, w *syncWriter) error {
	if err := l.runCompose(ctx, "up", names, w); err != nil {
		var errs []error
		for _, n := range names {
			if st := l.statusOne(ctx, n, ModeCompose); !st.Healthy {
				errs = append(errs, &StartError{Broker: n, Err: err})
			}
		}
		if len(errs) == 0 {
			return err
		}
		return errors.Join(errs...)
	}
	return nil
}

func (l *Launcher) composeDown(ctx context.Context, names []string, w *syncWriter) error {
	return l.runCompose(ctx, "down", names, w)
}
