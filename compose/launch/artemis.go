package launch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Artemis is ActiveMQ Artemis, unpacked from its binary distribution on Maven
// Central, with an instance made by its own `artemis create` and a
// configuration mqbench renders over it.
const Artemis = "artemis"

// ArtemisVersion is the release native mode runs; the compose file pins the
// same. (2.56.0's bin tar.gz is not served by Maven Central.)
const ArtemisVersion = "2.40.0"

// artemisArtifact is the binary distribution's Maven coordinate.
const artemisArtifact = "org.apache.activemq:apache-artemis:" + ArtemisVersion + ":tar.gz:bin"

// artemisMain is the distribution's entry point (lib/artemis-boot.jar).
const artemisMain = "org.apache.activemq.artemis.boot.Artemis"

// Artemis ports: STOMP (what the adapter dials; ActiveMQ Classic keeps
// 61613) and the core protocol acceptor (its own CLI and management
// clients), the same in native and compose mode.
const (
	PortArtemisStomp = 61623
	PortArtemisCore  = 61626
)

// Paths under the broker directory.
const (
	artemisDist     = "dist"     // the unpacked distribution's parent
	artemisInstance = "instance" // made by `artemis create`
)

// artemisSync is the journal sync of each profile: the durable profile
// makes every receipt wait for an fsynced journal write; the fast one lets
// receipts go before the write (the journal is still fsynced by its buffer
// timer).
func artemisSync(asyncFlush bool) map[string]any {
	return map[string]any{"DataSync": true, "SyncTx": !asyncFlush, "SyncNonTx": !asyncFlush}
}

// artemisDurability renders the journal settings as status shows them.
func artemisDurability(syncNonTx, syncTx, dataSync string) string {
	return "journal-sync-non-transactional=" + syncNonTx + " journal-sync-transactional=" + syncTx + " journal-datasync=" + dataSync
}

var (
	artemisSyncNonTxRe = regexp.MustCompile(`<journal-sync-non-transactional>([a-z]+)<`)
	artemisSyncTxRe    = regexp.MustCompile(`<journal-sync-transactional>([a-z]+)<`)
	artemisDataSyncRe  = regexp.MustCompile(`<journal-datasync>([a-z]+)<`)
)

// artemisBrokerXML is the rendered broker configuration, relative to the
// broker directory (inside the instance, where `artemis run` reads it).
const artemisBrokerXML = artemisInstance + "/etc/broker.xml"

func artemisSpec() Spec {
	acceptor := func(name string) *regexp.Regexp {
		return regexp.MustCompile(`<acceptor name="` + name + `">tcp://([^:/"]+):`)
	}
	return Spec{
		Name: Artemis, Title: "ActiveMQ Artemis", Version: ArtemisVersion, ClientPort: PortArtemisStomp,
		procs:  []procSpec{{"artemis", "artemis.pid", []string{artemisMain, "-Dartemis.instance="}}},
		checks: []check{{PortArtemisStomp, "stomp", ProbeSTOMP, false}},
		// The core acceptor serves Artemis's own CLI and Java clients; no
		// handshake is checked on it.
		extraPorts: []int{PortArtemisCore},
		binds: []bind{
			{port: PortArtemisStomp, role: "STOMP acceptor", file: artemisBrokerXML, setting: acceptor("stomp")},
			{port: PortArtemisCore, role: "core acceptor", file: artemisBrokerXML, setting: acceptor("core")},
		},
		logs:  []string{artemisInstance + "/log/artemis.log", "logs/stdout.log", "logs/create.log"},
		java:  true,
		maven: true,
		files: func(dir string, asyncFlush bool) []configFile {
			data := artemisSync(asyncFlush)
			data["Version"], data["Host"], data["DataDir"] = ArtemisVersion, host, dir+"/data"
			data["StompPort"], data["CorePort"], data["GlobalMaxSize"] = PortArtemisStomp, PortArtemisCore, "256M"
			return []configFile{
				{tmpl: "artemis-broker.xml", path: artemisBrokerXML, data: data},
				{tmpl: "artemis-bootstrap.xml", path: artemisInstance + "/etc/bootstrap.xml", data: map[string]any{"BrokerXML": dir + "/" + artemisBrokerXML}},
			}
		},
		start: startArtemis,
		durability: func(dir string) string {
			get := func(re *regexp.Regexp) string { return readSetting(dir, artemisBrokerXML, re) }
			if v := get(artemisSyncNonTxRe); v != "" {
				return artemisDurability(v, get(artemisSyncTxRe), get(artemisDataSyncRe))
			}
			return ""
		},
		wantDurability: func(asyncFlush bool) string {
			s := artemisSync(asyncFlush)
			f := func(k string) string { return strconv.FormatBool(s[k].(bool)) }
			return artemisDurability(f("SyncNonTx"), f("SyncTx"), f("DataSync"))
		},
	}
}

// artemisHome returns the unpacked distribution's directory under dir.
func artemisHome(dir string) string {
	return filepath.Join(dir, artemisDist, "apache-artemis-"+ArtemisVersion)
}

// installArtemis makes sure the distribution is unpacked under dir: Maven
// copies the bin tar.gz from Maven Central (through the local repository),
// tar unpacks it. Bounded to 15 minutes.
func (l *Launcher) installArtemis(ctx context.Context, dir string, w *syncWriter) error {
	home := artemisHome(dir)
	if fileExists(filepath.Join(home, "lib", "artemis-boot.jar")) {
		return nil
	}
	mvn, err := l.maven()
	if err != nil {
		return err
	}
	w.printf("artemis %s: fetching the distribution with Maven (first time downloads 47 MB)...", ArtemisVersion)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	dist := filepath.Join(dir, artemisDist)
	out, err := exec.CommandContext(ctx, mvn, "-B", "-q", dependencyPlugin+":copy",
		"-Dartifact="+artemisArtifact, "-DoutputDirectory="+dist).CombinedOutput()
	_ = os.WriteFile(filepath.Join(dir, "logs", "mvn.log"), out, 0o644)
	if err != nil {
		return fmt.Errorf("mvn copy %s: %w: %s", artemisArtifact, err, lastLines(string(out), 20))
	}
	tgz := filepath.Join(dist, "apache-artemis-"+ArtemisVersion+"-bin.tar.gz")
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", tgz, "-C", dist).CombinedOutput(); err != nil {
		return fmt.Errorf("unpack %s: %w: %s", tgz, err, lastLines(string(out), 10))
	}
	_ = os.Remove(tgz)
	if !fileExists(filepath.Join(home, "lib", "artemis-boot.jar")) {
		return fmt.Errorf("unpacked %s but %s has no lib/artemis-boot.jar", tgz, home)
	}
	return nil
}

// createArtemisInstance runs `artemis create` once (no web server, no
// AMQP/MQTT/HornetQ acceptors, loopback only), then renders mqbench's
// broker.xml and bootstrap.xml over the ones it wrote.
func (l *Launcher) createArtemisInstance(ctx context.Context, b instance, java string) error {
	inst := filepath.Join(b.dir, artemisInstance)
	if fileExists(filepath.Join(inst, "etc", "artemis.profile")) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(artemisHome(b.dir), "bin", "artemis"), "create", inst,
		"--silent", "--force", "--no-web", "--allow-anonymous", "--user", "mqbench", "--password", "mqbench",
		"--host", host, "--http-host", host, "--http-port", "61628", "--default-port", strconv.Itoa(PortArtemisCore),
		"--no-amqp-acceptor", "--no-mqtt-acceptor", "--no-hornetq-acceptor", "--nio", "--no-autotune",
		"--data", b.dir+"/data")
	cmd.Env = append(os.Environ(), "JAVACMD="+java)
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(b.dir, "logs", "create.log"), out, 0o644)
	if err != nil {
		return fmt.Errorf("artemis create: %w: %s", err, lastLines(string(out), 15))
	}
	return l.prepare(b) // create --force wrote its own broker.xml
}

func startArtemis(ctx context.Context, l *Launcher, b instance, w *syncWriter) error {
	java, err := l.java(ctx)
	if err != nil {
		return err
	}
	if err := l.installArtemis(ctx, b.dir, w); err != nil {
		return err
	}
	if err := l.createArtemisInstance(ctx, b, java); err != nil {
		return err
	}
	home, inst := artemisHome(b.dir), filepath.Join(b.dir, artemisInstance)
	// What the instance's bin/artemis run executes, without the shell in
	// between (so the pid file names the JVM from the start).
	argv := append([]string{java, "-Xms256m", "-Xmx1g"}, jvmCommon()...)
	argv = append(argv,
		"-Djava.security.auth.login.config="+inst+"/etc/login.config",
		"-classpath", home+"/lib/artemis-boot.jar",
		"-Dartemis.home="+home, "-Dartemis.instance="+inst,
		"-Djava.library.path="+home+"/bin/lib/linux-x86_64",
		"-Djava.io.tmpdir="+inst+"/tmp", "-Ddata.dir="+b.dir+"/data",
		"-Dartemis.instance.etc="+inst+"/etc",
		"--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
		artemisMain, "run")
	if err := os.MkdirAll(inst+"/tmp", 0o755); err != nil {
		return fmt.Errorf("create tmp dir: %w", err)
	}
	if err := l.startProc(b, b.procs[0], "stdout.log", nil, argv); err != nil {
		return err
	}
	return l.waitReady(ctx, b, b.procs, b.checks)
}
