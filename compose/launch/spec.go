package launch

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Spec is everything the launcher knows about one broker: its name, the
// address clients dial, its native launch (processes, config templates,
// prerequisites, start sequence, readiness handshakes, log files, disk-sync
// setting) and which sockets it listens on. Each broker's Spec lives in its
// own file (activemq.go, rabbitmq.go, kafka.go, rocketmq.go, artemis.go); Specs is the
// explicit table of them. The generic launcher code reads only Specs.
type Spec struct {
	// Name is the broker name used on the command line, in results and by the
	// adapter table (adapters/brokers), which must use the same names.
	Name string
	// Title is the human-readable broker name, e.g. "ActiveMQ Classic".
	Title string
	// Version is the release native mode runs from Maven Central jars, ""
	// when it runs the Debian package's release.
	Version string
	// ClientPort is the port on host its adapter dials by default; Addr
	// returns it with the host. A cluster's nodes have their own.
	ClientPort int
	// Topology is TopologySingle for the Specs table, TopologyCluster for
	// the cluster form FindTopology returns.
	Topology Topology
	// Nodes are a cluster's nodes, in order (nil for a single node). Each
	// node's process is the procSpec named after the node, its files live
	// in <home>/<broker>-cluster/<node name>/, and its client port has a
	// check of its own.
	Nodes []Node

	// procs are its OS processes in start order.
	procs []procSpec
	// checks are its endpoints and their handshakes; Status reports them in
	// this order.
	checks []check
	// extraPorts are other ports its processes hold; Down waits for them too.
	extraPorts []int
	// binds names, for every port it listens on and every address it
	// advertises, the setting that keeps it on loopback (or why none can).
	binds []bind
	// logs are tailed (relative to its directory) when a start fails.
	logs []string

	// apt are the Debian packages native mode runs (installed when root).
	apt []aptPackage
	// java and maven: native mode needs Java 17+ / Maven for it.
	java, maven bool

	// files lists the config files written into its directory dir before
	// every start; asyncFlush selects the "fast" disk settings.
	files func(dir string, asyncFlush bool) []configFile
	// env, when set, is added to the environment of its processes.
	env func(dir string) []string
	// start launches its processes (config already written) and waits until
	// every check answers.
	start func(ctx context.Context, l *Launcher, b instance, w *syncWriter) error
	// afterStop, when set, runs after Down stopped at least one of its
	// processes.
	afterStop func(ctx context.Context)
	// durability reads the disk-sync setting from the config rendered in
	// dir; wantDurability is what it reads for a broker started with the
	// given flush option ("" when the option does not change it).
	durability     func(dir string) string
	wantDurability func(asyncFlush bool) string
	// version, when set, finds the release from a process when no
	// handshake carries it ("" when unknown).
	version func(pid int) string

	// cluster, when set, returns the broker's cluster form: a Spec with
	// Nodes, one procSpec per node, one check per node's client port (and
	// its other ports in extraPorts), files rendered per node, and roles.
	cluster func() Spec
	// management is the comma-separated list of its HTTP management URLs
	// (driver.Config.ManagementURL) when the adapter's default does not
	// reach it ("" otherwise).
	management string
	// roles, when set, asks the running cluster for each node's role,
	// keyed by node name, as the broker reports it (bounded by ctx); nodes
	// it cannot say anything about are left out.
	roles func(ctx context.Context, l *Launcher, b instance) map[string]nodeRole
}

// Specs returns the brokers mqbench can launch, in a fixed order (a new slice
// each call). Adding a broker means adding its file and one row here.
func Specs() []Spec {
	return []Spec{activemqSpec(), rabbitmqSpec(), kafkaSpec(), rocketmqSpec(), artemisSpec()}
}

// Names returns every broker name in the order of Specs (a new slice each
// call).
func Names() []string {
	specs := Specs()
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

// Find returns the Spec of the broker named name.
func Find(name string) (Spec, bool) {
	for _, s := range Specs() {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// NativeRelease names what native mode runs: Version for a broker run from
// Maven Central jars, else the Debian package(s) it runs (whose release
// depends on the machine; Status reports it).
func (s Spec) NativeRelease() string {
	if s.Version != "" {
		return s.Version
	}
	var pkgs []string
	for _, p := range s.apt {
		if !slices.Contains(pkgs, p.pkg) {
			pkgs = append(pkgs, p.pkg)
		}
	}
	if len(pkgs) == 0 {
		return "?"
	}
	return "Debian " + strings.Join(pkgs, ", ")
}

// Addr returns the address its adapter dials by default: host:ClientPort,
// or for a cluster the comma-separated list of its nodes' client addresses
// (the form driver.Config.Addr takes), leaving out nodes marked NotClient.
func (s Spec) Addr() string {
	if len(s.Nodes) == 0 {
		return net.JoinHostPort(host, strconv.Itoa(s.ClientPort))
	}
	var addrs []string
	for _, n := range s.Nodes {
		if !n.NotClient {
			addrs = append(addrs, n.Addr())
		}
	}
	return strings.Join(addrs, ",")
}

// ManagementURL returns the management URL(s) its adapter needs in
// driver.Config.ManagementURL, comma-separated ("" when the adapter's
// default reaches it): an ActiveMQ cluster's Jolokia agents, one per node.
func (s Spec) ManagementURL() string { return s.management }

// Ports returns the ports whose handshake Status performs in mode, in
// order: in compose mode those the compose file publishes, else all.
func (s Spec) Ports(mode Mode) []int {
	var ports []int
	for _, c := range s.checksFor(mode) {
		ports = append(ports, c.port)
	}
	return ports
}

// checksFor returns the checks Status performs in mode.
func (s Spec) checksFor(mode Mode) []check {
	if mode != ModeCompose {
		return s.checks
	}
	return slices.DeleteFunc(slices.Clone(s.checks), func(c check) bool { return c.nativeOnly })
}

// Exposed returns one sentence for every port the broker listens on beyond
// loopback when mqbench runs it natively, naming the port and why (none for
// most brokers).
func (s Spec) Exposed() []string {
	var out []string
	for _, b := range s.binds {
		if b.exposed != "" {
			out = append(out, "port "+strconv.Itoa(b.port)+" ("+b.role+") listens on every interface, not "+host+": "+b.exposed)
		}
	}
	return out
}

// check is one endpoint of a broker and its handshake.
type check struct {
	port     int
	protocol string
	probe    func(ctx context.Context, addr string, timeout time.Duration) Handshake
	// nativeOnly marks a port the compose file does not publish.
	nativeOnly bool
}

// bind is one socket a broker listens on (port > 0) or one address it
// advertises to clients (port 0), and the setting mqbench renders for it.
type bind struct {
	port int
	role string
	// file is the rendered config file (relative to the broker directory)
	// holding the setting, or envFile for the process environment.
	file string
	// setting matches the setting; its first group is the address (an IP,
	// "localhost" or an Erlang tuple such as {127,0,0,1}).
	setting *regexp.Regexp
	// exposed, when not empty, says why the broker cannot bind this port to
	// loopback (file and setting are then empty).
	exposed string
}

// envFile is the bind.file of a setting passed in the environment.
const envFile = "(environment)"

// configFile is one config file a broker needs: templates/<tmpl>.tmpl
// rendered with data, or raw bytes when tmpl is empty.
type configFile struct {
	tmpl, path string
	data       map[string]any
	raw        []byte
}

// instance is a Spec placed in a state directory.
type instance struct {
	Spec
	dir string
	// answerOnly: a start waits until the nodes answer their handshakes,
	// not until the cluster's replication has settled (RocketMQ's sync
	// state set holding every replica); see Launcher.StartNodes.
	answerOnly bool
}

// broker returns the instance of a known broker name in the launcher's
// topology; names are validated by checkNames before.
func (l *Launcher) broker(name string) instance {
	s, err := FindTopology(name, l.opts.Topology)
	if err != nil {
		panic("launch: " + err.Error())
	}
	return instance{Spec: s, dir: filepath.Join(l.home, s.dirName())}
}

// nodeDir returns the directory of node n of a cluster instance.
func (b instance) nodeDir(n Node) string { return filepath.Join(b.dir, n.Name) }

// readSetting returns the first group of re in the file rel under dir, ""
// when the file or the setting is absent.
func readSetting(dir, rel string, re *regexp.Regexp) string {
	c, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		return ""
	}
	if m := re.FindSubmatch(c); m != nil {
		return string(m[1])
	}
	return ""
}
