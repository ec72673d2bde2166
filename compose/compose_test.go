package compose

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// load parses the embedded file the way Docker Compose does (offline), with
// the given profiles active.
func load(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	details := types.ConfigDetails{
		WorkingDir:  t.TempDir(),
		ConfigFiles: []types.ConfigFile{{Filename: "docker-compose.yml", Content: File()}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName(Project, true)
		o.Profiles = profiles
	})
	if err != nil {
		t.Fatalf("compose file does not load: %v", err)
	}
	return p
}

// wantServices maps each service to the broker profile it belongs to.
var wantServices = map[string]string{
	"activemq":         "activemq",
	"rabbitmq":         "rabbitmq",
	"kafka":            "kafka",
	"rocketmq-namesrv": "rocketmq",
	"rocketmq-broker":  "rocketmq",
	"kafka-1":          "kafka-cluster",
	"kafka-2":          "kafka-cluster",
	"kafka-3":          "kafka-cluster",
	"rabbitmq-1":       "rabbitmq-cluster",
	"rabbitmq-2":       "rabbitmq-cluster",
	"rabbitmq-3":       "rabbitmq-cluster",
}

func TestComposeFileServices(t *testing.T) {
	p := load(t, "*")
	var names []string
	for n := range p.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) != len(wantServices) {
		t.Fatalf("services %v, want %d: %v", names, len(wantServices), wantServices)
	}
	var firstLimits *types.Resource
	for name, svc := range p.Services {
		t.Run(name, func(t *testing.T) {
			profile, ok := wantServices[name]
			if !ok {
				t.Fatalf("unexpected service %q", name)
			}
			// Single nodes are in "all", cluster nodes in "cluster".
			group := "all"
			if strings.HasSuffix(profile, "-cluster") {
				group = "cluster"
			}
			if !slices.Contains(svc.Profiles, profile) || !slices.Contains(svc.Profiles, group) || len(svc.Profiles) != 2 {
				t.Errorf("profiles %v, want %q and %s", svc.Profiles, profile, group)
			}
			last := svc.Image[strings.LastIndex(svc.Image, "/")+1:]
			_, tag, ok := strings.Cut(last, ":")
			if !ok || tag == "" || tag == "latest" || strings.Contains(svc.Image, "@") {
				t.Errorf("image %q is not pinned to a version tag", svc.Image)
			}
			if svc.HealthCheck == nil || svc.HealthCheck.Disable || len(svc.HealthCheck.Test) == 0 {
				t.Errorf("no health check")
			}
			if svc.Deploy == nil || svc.Deploy.Resources.Limits == nil {
				t.Fatalf("no resource limits")
			}
			l := svc.Deploy.Resources.Limits
			if l.NanoCPUs <= 0 || l.MemoryBytes <= 0 {
				t.Errorf("limits cpus=%v memory=%v, want both set", l.NanoCPUs, l.MemoryBytes)
			}
			if firstLimits == nil {
				firstLimits = l
			} else if l.NanoCPUs != firstLimits.NanoCPUs || l.MemoryBytes != firstLimits.MemoryBytes {
				t.Errorf("limits cpus=%v memory=%v differ from another broker's cpus=%v memory=%v", l.NanoCPUs, l.MemoryBytes, firstLimits.NanoCPUs, firstLimits.MemoryBytes)
			}
			for _, port := range svc.Ports {
				if port.HostIP != "127.0.0.1" {
					t.Errorf("port %s published on %q, want 127.0.0.1 only", port.Published, port.HostIP)
				}
			}
		})
	}
}

func TestComposeFilePorts(t *testing.T) {
	p := load(t, "*")
	published := map[string]string{}
	for name, svc := range p.Services {
		for _, port := range svc.Ports {
			published[port.Published] = name
			if port.Published != "" && port.Target != 0 && port.Published != strconv.Itoa(int(port.Target)) {
				t.Errorf("%s publishes %s -> %d: host and container ports must match", name, port.Published, port.Target)
			}
		}
	}
	for port, svc := range map[string]string{
		"61613": "activemq", "61616": "activemq", "5672": "rabbitmq", "9092": "kafka",
		"9876": "rocketmq-namesrv", "10911": "rocketmq-broker",
		"29092": "kafka-1", "29093": "kafka-2", "29094": "kafka-3",
		"5682": "rabbitmq-1", "5683": "rabbitmq-2", "5684": "rabbitmq-3",
	} {
		if published[port] != svc {
			t.Errorf("port %s published by %q, want %q", port, published[port], svc)
		}
	}
}

func TestComposeFileVolumesAndConfigs(t *testing.T) {
	p := load(t, "*")
	for _, name := range []string{"activemq", "rabbitmq", "kafka", "rocketmq-broker"} {
		svc := p.Services[name]
		named := false
		for _, v := range svc.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s mounts undeclared volume %q", name, v.Source)
				}
				named = true
			}
		}
		if !named {
			t.Errorf("%s has no named data volume", name)
		}
	}
	amq := p.Configs["activemq_xml"].Content
	// The data must land on the named volume: an absolute path, since the
	// minimal config has no placeholder bean to expand ${activemq.data}.
	if !strings.Contains(amq, "stomp://0.0.0.0:61613?transport.tcpNoDelay=true") ||
		!strings.Contains(amq, `<kahaDB directory="/opt/apache-activemq/data/kahadb"`) || strings.Contains(amq, "${activemq.data}\"") {
		t.Errorf("activemq.xml config lacks the tcpNoDelay STOMP connector or the kahaDB directory on the data volume:\n%s", amq)
	}
	rmq := p.Configs["rocketmq_broker_conf"].Content
	for _, want := range []string{"brokerIP1=127.0.0.1", "flushDiskType=SYNC_FLUSH", "listenPort=10911"} {
		if !strings.Contains(rmq, want) {
			t.Errorf("broker.conf lacks %q", want)
		}
	}
}

func TestComposeFileProfiles(t *testing.T) {
	for profile, want := range map[string][]string{
		"activemq":         {"activemq"},
		"rabbitmq":         {"rabbitmq"},
		"kafka":            {"kafka"},
		"rocketmq":         {"rocketmq-broker", "rocketmq-namesrv"},
		"kafka-cluster":    {"kafka-1", "kafka-2", "kafka-3"},
		"rabbitmq-cluster": {"rabbitmq-1", "rabbitmq-2", "rabbitmq-3"},
	} {
		p := load(t, profile)
		var got []string
		for n := range p.Services {
			got = append(got, n)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("profile %s starts %v, want %v", profile, got, want)
		}
	}
	if p := load(t); len(p.Services) != 0 {
		t.Errorf("no profile starts %d services, want 0 (every service is behind a profile)", len(p.Services))
	}
}
