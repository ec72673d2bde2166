package launch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// aptPackage names the Debian package providing a required file.
type aptPackage struct{ file, pkg string }

// prerequisites checks (and where it can, installs) what the named brokers
// need before any starts: apt packages (installed when running as root),
// Java 17+ and Maven. The error names what to install.
func (l *Launcher) prerequisites(ctx context.Context, names []string, w *syncWriter) error {
	var apt []aptPackage
	needJava, needMaven := false, false
	for _, n := range names {
		b := l.broker(n)
		apt = append(apt, b.apt...)
		needJava = needJava || b.java
		needMaven = needMaven || b.maven
	}
	if err := l.ensureApt(ctx, apt, w); err != nil {
		return err
	}
	if needJava {
		if _, err := l.java(ctx); err != nil {
			return err
		}
	}
	if needMaven {
		if _, err := l.maven(); err != nil {
			return err
		}
	}
	return nil
}

// missingPackages returns the packages whose file is absent, in order and
// without duplicates.
func missingPackages(pkgs []aptPackage, exists func(string) bool) []string {
	var missing []string
	for _, p := range pkgs {
		if !exists(p.file) && !slices.Contains(missing, p.pkg) {
			missing = append(missing, p.pkg)
		}
	}
	return missing
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ensureApt installs missing Debian packages with apt-get when running as
// root (bounded to 15 minutes, waiting up to 10 for the dpkg lock), else
// returns an error naming the command to run.
func (l *Launcher) ensureApt(ctx context.Context, pkgs []aptPackage, w *syncWriter) error {
	missing := missingPackages(pkgs, fileExists)
	if len(missing) == 0 {
		return nil
	}
	cmdline := "apt-get install -y " + strings.Join(missing, " ")
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("native mode needs the Debian/Ubuntu packages %s and apt-get is not available: install them with your package manager, or use --mode compose", strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("native mode needs the packages %s: run `sudo %s` (or run mqbench up as root to install them)", strings.Join(missing, ", "), cmdline)
	}
	w.printf("installing %s with apt-get (one time, about a minute)...", strings.Join(missing, " "))
	logPath := filepath.Join(l.home, "apt.log")
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		_ = os.MkdirAll(l.home, 0o755)
		f, ferr := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if ferr == nil {
			fmt.Fprintf(f, "$ apt-get %s\n%s\n", strings.Join(args, " "), out)
			f.Close()
		}
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, lastLines(string(out), 15))
		}
		return nil
	}
	install := append([]string{"-o", "DPkg::Lock::Timeout=600", "install", "-y", "--no-install-recommends"}, missing...)
	if err := run(install...); err != nil {
		// A fresh machine may have no package lists yet.
		if uerr := run("-o", "DPkg::Lock::Timeout=600", "update"); uerr != nil {
			return fmt.Errorf("installing %s failed: %w", strings.Join(missing, " "), errors.Join(err, uerr))
		}
		if err := run(install...); err != nil {
			return fmt.Errorf("installing %s failed (log: %s): %w", strings.Join(missing, " "), logPath, err)
		}
	}
	if still := missingPackages(pkgs, fileExists); len(still) > 0 {
		return fmt.Errorf("apt-get installed %s but the files native mode runs are still missing (see %s)", strings.Join(still, " "), logPath)
	}
	w.printf("installed %s", strings.Join(missing, " "))
	return nil
}

var javaVersionRe = regexp.MustCompile(`version "(\d+)(?:\.(\d+))?`)

// javaMajor extracts the major version from `java -version` output
// ("1.8.0_x" → 8, "17.0.9" → 17), 0 when absent.
func javaMajor(out string) int {
	m := javaVersionRe.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	major, _ := strconv.Atoi(m[1])
	if major == 1 && m[2] != "" {
		major, _ = strconv.Atoi(m[2])
	}
	return major
}

// java locates a Java 17+ executable (Options.Java, $JAVA_HOME/bin/java,
// PATH) and checks its version (bounded to 30 s).
func (l *Launcher) java(ctx context.Context) (string, error) {
	bin := l.opts.Java
	if bin == "" {
		if jh := os.Getenv("JAVA_HOME"); jh != "" && fileExists(filepath.Join(jh, "bin", "java")) {
			bin = filepath.Join(jh, "bin", "java")
		} else if p, err := exec.LookPath("java"); err == nil {
			bin = p
		} else {
			return "", errors.New("java not found (JAVA_HOME unset and no java on PATH): install a Java 17+ runtime, e.g. `apt-get install -y openjdk-17-jre-headless`")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -version failed: %w: %s", bin, err, bytes.TrimSpace(out))
	}
	if v := javaMajor(string(out)); v < 17 {
		return "", fmt.Errorf("%s is Java %d; ActiveMQ 6, Kafka 4 and RocketMQ 5 need Java 17 or newer: install one (e.g. openjdk-17-jre-headless) or set JAVA_HOME", bin, v)
	}
	return bin, nil
}

// maven locates mvn (Options.Maven or PATH).
func (l *Launcher) maven() (string, error) {
	if l.opts.Maven != "" {
		return l.opts.Maven, nil
	}
	p, err := exec.LookPath("mvn")
	if err != nil {
		return "", errors.New("mvn not found on PATH: ActiveMQ, Kafka and RocketMQ run from Maven Central jars; install Maven 3 (e.g. `apt-get install -y maven`)")
	}
	return p, nil
}

// dependencyPlugin is named with its version so Maven needs no plugin-prefix
// look-up.
const dependencyPlugin = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

// classpath returns the runtime classpath of the pom in dir. It reuses
// dir/classpath.txt while the pom is unchanged and every jar still exists in
// the local repository; otherwise it runs Maven (bounded to 15 minutes,
// output in dir/logs/mvn.log), which downloads into ~/.m2 once.
func (l *Launcher) classpath(ctx context.Context, dir, label string, w *syncWriter) (string, error) {
	pom, err := os.ReadFile(filepath.Join(dir, "pom.xml"))
	if err != nil {
		return "", fmt.Errorf("read pom: %w", err)
	}
	sum := sha256.Sum256(pom)
	stamp := hex.EncodeToString(sum[:])
	cpFile, stampFile := filepath.Join(dir, "classpath.txt"), filepath.Join(dir, "classpath.sha256")
	if old, err := os.ReadFile(stampFile); err == nil && strings.TrimSpace(string(old)) == stamp {
		if cp, err := os.ReadFile(cpFile); err == nil && classpathComplete(string(cp)) {
			return strings.TrimSpace(string(cp)), nil
		}
	}
	mvn, err := l.maven()
	if err != nil {
		return "", err
	}
	w.printf("%s: resolving jars with Maven into the local repository (first time downloads them)...", label)
	logPath := filepath.Join(dir, "logs", "mvn.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return "", fmt.Errorf("create log dir: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, mvn, "-B", "-q", "-f", filepath.Join(dir, "pom.xml"),
		dependencyPlugin+":build-classpath", "-DincludeScope=runtime", "-Dmdep.outputFile="+cpFile)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(logPath, out, 0o644)
	if err != nil {
		return "", fmt.Errorf("%s: mvn failed (%w); log %s:\n%s", label, err, logPath, lastLines(string(out), 20))
	}
	cp, err := os.ReadFile(cpFile)
	if err != nil || !classpathComplete(string(cp)) {
		return "", fmt.Errorf("%s: mvn produced no usable classpath in %s (log %s)", label, cpFile, logPath)
	}
	if err := os.WriteFile(stampFile, []byte(stamp+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", stampFile, err)
	}
	return strings.TrimSpace(string(cp)), nil
}

// classpathComplete reports whether cp lists at least one jar and all exist.
func classpathComplete(cp string) bool {
	cp = strings.TrimSpace(cp)
	if cp == "" {
		return false
	}
	for _, p := range filepath.SplitList(cp) {
		if !fileExists(p) {
			return false
		}
	}
	return true
}

// diskUsedRatio returns the used fraction of the filesystem holding path, as
// RocketMQ computes it ((total-free)/total).
func diskUsedRatio(path string) (float64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	if st.Blocks == 0 {
		return 0, nil
	}
	return float64(st.Blocks-st.Bfree) / float64(st.Blocks), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
