package launch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ActiveMQ is ActiveMQ Classic, from Maven Central jars, started by the
// console's start command from an xbean activemq.xml.
const ActiveMQ = "activemq"

// ActiveMQVersion is the release native mode runs (6.3.2's console, spring,
// stomp and kahadb-store jars do not resolve from Maven Central, and no 6.x
// binary distribution is published there).
const ActiveMQVersion = "6.3.1"

// activemqMain starts a broker from an xbean: URI ("start xbean:file:..."):
// the entry point of the distribution's bin/activemq.jar, here from the
// activemq-console jar on a Maven-resolved classpath.
const activemqMain = "org.apache.activemq.console.Main"

// ActiveMQ ports, the same in native and compose mode, except
// PortActiveMQJolokia, which only native mode opens.
const (
	PortActiveMQStomp    = 61613
	PortActiveMQOpenWire = 61616
	// PortActiveMQJolokia serves Jolokia (JMX over HTTP, read-only, on
	// loopback) at /api/jolokia: the port and path where the ActiveMQ
	// distribution's web console serves it, so that the adapter reads a
	// broker mqbench started and a standard one the same way.
	PortActiveMQJolokia = 8161
)

// JolokiaVersion is the Jolokia JVM agent (org.jolokia:jolokia-agent-jvm,
// classifier javaagent, from Maven Central) native mode attaches to the
// ActiveMQ JVM.
const JolokiaVersion = "2.6.0"

// JolokiaPath is where the agent answers on PortActiveMQJolokia.
const JolokiaPath = "/api/jolokia"

// KahaDBSettingsMBean is the MBean under which the native broker's
// activemq.xml exports its live KahaDB persistence adapter's journal sync
// getters (JournalDiskSyncStrategy, EnableJournalDiskSyncs,
// JournalDiskSyncInterval): ActiveMQ's own PersistenceAdapter MBean does
// not carry them.
const KahaDBSettingsMBean = "org.apache.activemq:type=Broker,brokerName=mqbench,service=PersistenceAdapter,instanceName=KahaDBSettings"

var journalSyncRe = regexp.MustCompile(`journalDiskSyncStrategy="([a-z]+)"`)

// activemqJournalSync is KahaDB's journal sync: an fsync before every
// receipt (durable profile) or every second (fast).
func activemqJournalSync(asyncFlush bool) string {
	if asyncFlush {
		return "periodic"
	}
	return "always"
}

func activemqSpec() Spec {
	uriHost := func(scheme string) *regexp.Regexp {
		return regexp.MustCompile(`uri="` + scheme + `://([^:/"]+):`)
	}
	return Spec{
		Name: ActiveMQ, Title: "ActiveMQ Classic", Version: ActiveMQVersion, ClientPort: PortActiveMQStomp,
		// The marker matches the Debian package's broker of earlier mqbench
		// releases too (java -jar activemq.jar start xbean:file:...), so that
		// down stops one still running in the same state directory.
		procs: []procSpec{{"activemq", "activemq.pid", []string{"xbean:file:"}}},
		checks: []check{
			{PortActiveMQStomp, "stomp", ProbeSTOMP, false},
			{PortActiveMQOpenWire, "openwire", ProbeOpenWire, false},
			{PortActiveMQJolokia, "jolokia", ProbeJolokia, true},
		},
		binds: []bind{
			{port: PortActiveMQStomp, role: "STOMP", file: "conf/activemq.xml", setting: uriHost("stomp")},
			{port: PortActiveMQOpenWire, role: "OpenWire", file: "conf/activemq.xml", setting: uriHost("tcp")},
			{port: PortActiveMQJolokia, role: "Jolokia", file: "conf/jolokia.properties", setting: regexp.MustCompile(`(?m)^host=(\S+)$`)},
		},
		logs:  []string{"logs/activemq.log", "logs/stdout.log"},
		java:  true,
		maven: true,
		files: func(dir string, asyncFlush bool) []configFile {
			return []configFile{
				{tmpl: "activemq-pom.xml", path: "pom.xml", data: map[string]any{"Version": ActiveMQVersion, "JolokiaVersion": JolokiaVersion}},
				{tmpl: "activemq.xml", path: "conf/activemq.xml", data: map[string]any{
					"Host": host, "StompPort": PortActiveMQStomp, "OpenWirePort": PortActiveMQOpenWire,
					"JournalSync": activemqJournalSync(asyncFlush), "StoreLimit": "8 gb", "TempLimit": "2 gb", "DataDir": dir + "/data",
					"SettingsMBean": KahaDBSettingsMBean,
				}},
				{tmpl: "activemq-jolokia.properties", path: "conf/jolokia.properties", data: map[string]any{
					"Host": host, "Port": PortActiveMQJolokia, "Path": JolokiaPath, "Policy": dir + "/conf/jolokia-access.xml",
				}},
				{tmpl: "activemq-jolokia-access.xml", path: "conf/jolokia-access.xml"},
				{tmpl: "activemq-log4j2.properties", path: "conf/log4j2.properties", data: map[string]any{"LogFile": dir + "/logs/activemq.log"}},
			}
		},
		start:   startActiveMQ,
		cluster: activemqClusterSpec,
		durability: func(dir string) string {
			if v := readSetting(dir, "conf/activemq.xml", journalSyncRe); v != "" {
				return "kahadb journal sync " + v
			}
			return ""
		},
		wantDurability: func(asyncFlush bool) string { return "kahadb journal sync " + activemqJournalSync(asyncFlush) },
	}
}

func startActiveMQ(ctx context.Context, l *Launcher, b instance, w *syncWriter) error {
	java, err := l.java(ctx)
	if err != nil {
		return err
	}
	d := b.dir
	cp, err := l.classpath(ctx, d, "activemq "+ActiveMQVersion, w)
	if err != nil {
		return err
	}
	agent, err := jolokiaAgent(cp)
	if err != nil {
		return err
	}
	// Every activemq.* directory is the state directory: the console adds
	// no jars of its own (there is no lib/ under it), the classpath has them.
	argv := append([]string{java, "-Xms128m", "-Xmx512m"}, jvmCommon()...)
	argv = append(argv, "-javaagent:"+agent+"=config="+d+"/conf/jolokia.properties",
		"-Dactivemq.home="+d, "-Dactivemq.base="+d,
		"-Dactivemq.conf="+d+"/conf", "-Dactivemq.data="+d+"/data",
		"-Dactivemq.classpath="+d+"/conf", "-Djava.io.tmpdir="+d+"/data/tmp",
		"-Dlog4j2.configurationFile="+d+"/conf/log4j2.properties",
		"-cp", cp, activemqMain, "start", "xbean:file:"+d+"/conf/activemq.xml")
	if err := os.MkdirAll(d+"/data/tmp", 0o755); err != nil {
		return fmt.Errorf("create tmp dir: %w", err)
	}
	if err := l.startProc(b, b.procs[0], "stdout.log", nil, argv); err != nil {
		return err
	}
	return l.waitReady(ctx, b, b.procs, b.checks)
}

// jolokiaAgent finds the Jolokia JVM agent jar on the resolved classpath cp.
func jolokiaAgent(cp string) (string, error) {
	for _, p := range filepath.SplitList(cp) {
		if strings.HasSuffix(p, "jolokia-agent-jvm-"+JolokiaVersion+"-javaagent.jar") {
			return p, nil
		}
	}
	return "", fmt.Errorf("the classpath has no jolokia-agent-jvm-%s-javaagent.jar: delete classpath.sha256 in the state directory to resolve it again", JolokiaVersion)
}
