package launch

import (
	"context"
	"fmt"
	"os"
	"regexp"
)

// ActiveMQ is ActiveMQ Classic from the Debian package, one instance of its
// own in the state directory.
const ActiveMQ = "activemq"

// ActiveMQ ports, the same in native and compose mode.
const (
	PortActiveMQStomp    = 61613
	PortActiveMQOpenWire = 61616
)

// Files of the Debian package native mode runs.
const (
	activemqJar  = "/usr/share/activemq/bin/activemq.jar"
	activemqHome = "/usr/share/activemq"
)

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
		Name: ActiveMQ, Title: "ActiveMQ Classic", ClientPort: PortActiveMQStomp,
		procs: []procSpec{{"activemq", "activemq.pid", []string{"activemq.jar"}}},
		checks: []check{
			{PortActiveMQStomp, "stomp", ProbeSTOMP, false},
			{PortActiveMQOpenWire, "openwire", ProbeOpenWire, false},
		},
		binds: []bind{
			{port: PortActiveMQStomp, role: "STOMP", file: "conf/activemq.xml", setting: uriHost("stomp")},
			{port: PortActiveMQOpenWire, role: "OpenWire", file: "conf/activemq.xml", setting: uriHost("tcp")},
		},
		logs: []string{"logs/activemq.log", "logs/stdout.log"},
		apt:  []aptPackage{{activemqJar, "activemq"}},
		java: true,
		files: func(dir string, asyncFlush bool) []configFile {
			return []configFile{
				{tmpl: "activemq.xml", path: "conf/activemq.xml", data: map[string]any{
					"Host": host, "StompPort": PortActiveMQStomp, "OpenWirePort": PortActiveMQOpenWire,
					"JournalSync": activemqJournalSync(asyncFlush), "StoreLimit": "8 gb", "TempLimit": "2 gb", "DataDir": dir + "/data",
				}},
				{tmpl: "activemq-log4j.properties", path: "conf/log4j.properties", data: map[string]any{"LogFile": dir + "/logs/activemq.log"}},
			}
		},
		start: startActiveMQ,
		durability: func(dir string) string {
			if v := readSetting(dir, "conf/activemq.xml", journalSyncRe); v != "" {
				return "kahadb journal sync " + v
			}
			return ""
		},
		wantDurability: func(asyncFlush bool) string { return "kahadb journal sync " + activemqJournalSync(asyncFlush) },
	}
}

func startActiveMQ(ctx context.Context, l *Launcher, b instance, _ *syncWriter) error {
	java, err := l.java(ctx)
	if err != nil {
		return err
	}
	d := b.dir
	argv := append([]string{java, "-Xms128m", "-Xmx512m"}, jvmCommon()...)
	argv = append(argv,
		"-Dactivemq.home="+activemqHome, "-Dactivemq.base="+d,
		"-Dactivemq.conf="+d+"/conf", "-Dactivemq.data="+d+"/data",
		"-Dactivemq.classpath="+d+"/conf", "-Djava.io.tmpdir="+d+"/data/tmp",
		"-Dlog4j.configuration=file:"+d+"/conf/log4j.properties",
		"-jar", activemqJar, "start", "xbean:file:"+d+"/conf/activemq.xml")
	if err := os.MkdirAll(d+"/data/tmp", 0o755); err != nil {
		return fmt.Errorf("create tmp dir: %w", err)
	}
	if err := l.startProc(b, b.procs[0], "stdout.log", nil, argv); err != nil {
		return err
	}
	return l.waitReady(ctx, b, b.procs, b.checks)
}
