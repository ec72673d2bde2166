package launch

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseTopology(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Topology
		err  bool
	}{{"", TopologySingle, false}, {"single", TopologySingle, false}, {" Cluster ", TopologyCluster, false}, {"ha", "", true}} {
		got, err := ParseTopology(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseTopology(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// TestClusterSpecs: each cluster form has its nodes, one process and one
// client check per node, node ports that do not collide, and an address
// list; brokers without one are refused by name.
func TestClusterSpecs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addr  string
		ports []int
	}{
		{Kafka, "127.0.0.1:29092,127.0.0.1:29093,127.0.0.1:29094", []int{29092, 29192, 29093, 29193, 29094, 29194}},
		{RabbitMQ, "127.0.0.1:5682,127.0.0.1:5683,127.0.0.1:5684", []int{5682, 25682, 15682, 5683, 25683, 15683, 5684, 25684, 15684}},
	} {
		s, err := FindTopology(tc.name, TopologyCluster)
		if err != nil {
			t.Fatal(err)
		}
		if s.Topology != TopologyCluster || s.dirName() != tc.name+"-cluster" || s.Addr() != tc.addr {
			t.Errorf("%s: topology %q dir %q addr %q", tc.name, s.Topology, s.dirName(), s.Addr())
		}
		var ports []int
		for _, n := range s.Nodes {
			ports = append(ports, append([]int{n.ClientPort}, n.Ports...)...)
			if !slices.ContainsFunc(s.procs, func(p procSpec) bool { return p.name == n.Name && strings.HasPrefix(p.pidFile, n.Name+"/") }) {
				t.Errorf("%s: no process for node %s", tc.name, n.Name)
			}
			if !slices.ContainsFunc(s.checks, func(c check) bool { return c.port == n.ClientPort }) {
				t.Errorf("%s: no check on node %s's client port", tc.name, n.Name)
			}
		}
		if !slices.Equal(ports, tc.ports) {
			t.Errorf("%s: node ports %v, want %v", tc.name, ports, tc.ports)
		}
		single, _ := FindTopology(tc.name, TopologySingle)
		if single.Topology != TopologySingle || single.Nodes != nil || single.dirName() != tc.name {
			t.Errorf("%s single: %+v", tc.name, single.Nodes)
		}
	}
	if _, err := FindTopology("nosuch", TopologyCluster); err == nil {
		t.Error("FindTopology of an unknown broker succeeded")
	}
	for _, s := range Specs() {
		if _, err := FindTopology(s.Name, TopologyCluster); (err == nil) != s.HasTopology(TopologyCluster) {
			t.Errorf("%s: FindTopology error %v disagrees with HasTopology", s.Name, err)
		}
	}
	if got, err := ParseNamesFor("all", TopologyCluster); err != nil || !slices.Equal(got, NamesFor(TopologyCluster)) {
		t.Errorf("ParseNamesFor(all, cluster) = %v, %v", got, err)
	}
}

// TestClusterFilesLoopback: every node's rendered config binds its own
// ports on loopback.
func TestClusterFilesLoopback(t *testing.T) {
	for _, name := range NamesFor(TopologyCluster) {
		s, _ := FindTopology(name, TopologyCluster)
		files, err := renderFiles(s, "/state/"+s.dirName(), false)
		if err != nil {
			t.Fatal(err)
		}
		byPath := map[string]string{}
		for _, f := range files {
			byPath[f.path] = string(f.data)
		}
		for _, b := range s.binds {
			if b.file == envFile || b.exposed != "" {
				continue
			}
			c, ok := byPath[b.file]
			if !ok {
				t.Errorf("%s: %s: no rendered file %s", name, b.role, b.file)
				continue
			}
			m := b.setting.FindStringSubmatch(c)
			if m == nil || m[1] != host {
				t.Errorf("%s: %s in %s: %v, want %s", name, b.role, b.file, m, host)
			}
			// host:port, or a port setting of its own (RocketMQ's
			// listenPort=, RabbitMQ's management.tcp.port = ).
			if p := strconv.Itoa(b.port); b.port > 0 && !strings.Contains(c, ":"+p) && !strings.Contains(c, "="+p) && !strings.Contains(c, "= "+p+"\n") {
				t.Errorf("%s: %s: port %d not in %s", name, b.role, b.port, b.file)
			}
		}
	}
}

// TestParseDescribeQuorum decodes a DescribeQuorum v0 response body built
// by hand, and refuses truncated or error responses.
func TestParseDescribeQuorum(t *testing.T) {
	b := []byte{0}       // header tags
	b = append(b, 0, 0)  // error code
	b = append(b, 2, 19) // one topic, name of 18 bytes
	b = append(b, "__cluster_metadata"...)
	b = append(b, 2)          // one partition
	b = append(b, 0, 0, 0, 0) // index
	b = append(b, 0, 0)       // error code
	b = binary.BigEndian.AppendUint32(b, 2)
	b = binary.BigEndian.AppendUint32(b, 7)
	b = binary.BigEndian.AppendUint64(b, 100)
	b = append(b, 4) // three voters
	for id := uint32(1); id <= 3; id++ {
		b = binary.BigEndian.AppendUint32(b, id)
		b = binary.BigEndian.AppendUint64(b, 100)
		b = append(b, 0)
	}
	b = append(b, 1, 0, 0, 0) // no observers, tags
	q, err := parseDescribeQuorum(b)
	if err != nil || q.leader != 2 || q.epoch != 7 || len(q.voters) != 3 || !q.voters[3] {
		t.Fatalf("parse = %+v, %v", q, err)
	}
	if _, err := parseDescribeQuorum(b[:20]); err == nil {
		t.Error("truncated response parsed")
	}
	bad := slices.Clone(b)
	bad[2] = 6 // NOT_LEADER_OR_FOLLOWER
	if _, err := parseDescribeQuorum(bad); err == nil {
		t.Error("error response parsed")
	}
}

func TestComposeProfiles(t *testing.T) {
	if got := composeProfiles([]string{Kafka, RabbitMQ}, TopologyCluster); !slices.Equal(got, []string{"kafka-cluster", "rabbitmq-cluster"}) {
		t.Errorf("cluster profiles %v", got)
	}
	if got := composeProfiles([]string{Kafka}, TopologySingle); !slices.Equal(got, []string{"kafka"}) {
		t.Errorf("single profiles %v", got)
	}
}

// TestNodeControlRefusals: a node operation on a single-node topology or
// an unknown broker fails with a message naming the problem, starting and
// stopping nothing.
func TestNodeControlRefusals(t *testing.T) {
	single, err := New(Options{Home: t.TempDir(), Mode: ModeNative})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := New(Options{Home: t.TempDir(), Mode: ModeNative, Topology: TopologyCluster})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"start on single", single.StartNodes(ctx, RocketMQ), "not a cluster"},
		{"kill on single", single.KillNode(ctx, Kafka, "node1"), "not a cluster"},
		{"stop on single", single.StopNode(ctx, Kafka, "node1", time.Second), "not a cluster"},
		{"start unknown", cl.StartNodes(ctx, "nosuch"), "nosuch"},
		{"kill unknown node", cl.KillNode(ctx, Kafka, "node9"), "node9"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, c.err, c.want)
		}
	}
}
