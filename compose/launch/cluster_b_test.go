package launch

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClusterFormsRocketMQActiveMQ: the cluster forms of RocketMQ and
// ActiveMQ render a config for every node, keep every port they hold on
// loopback by a setting (RocketMQ's HA listeners are the documented
// exception), stay within their port ranges (RocketMQ 39800-39999, ActiveMQ
// 62613/62623, 62616/62626 and Jolokia 62661/62662), and hand the adapter
// the right lists: the three name servers, the two STOMP ports (and for
// ActiveMQ the two Jolokia URLs).
func TestClusterFormsRocketMQActiveMQ(t *testing.T) {
	for _, tc := range []struct {
		name     string
		addr     string
		mgmt     string
		nodes    int
		inRange  func(int) bool
		exposed  int
		mustHave map[string][]string // rendered file -> settings it must contain
	}{
		{RocketMQ, "127.0.0.1:39876,127.0.0.1:39877,127.0.0.1:39878", "", 6,
			func(p int) bool { return p >= 39800 && p <= 39999 }, 3,
			map[string][]string{
				"namesrv2/conf/namesrv.conf": {"enableControllerInNamesrv=true", "controllerDLegerSelfId=n1", "listenPort=39877"},
				"broker3/conf/broker.conf": {"enableControllerMode=true", "allAckInSyncStateSet=true", "minInSyncReplicas=2",
					"flushDiskType=SYNC_FLUSH", "brokerName=broker-a", "listenPort=39931", "haListenPort=39932",
					"controllerAddr=127.0.0.1:39886;127.0.0.1:39887;127.0.0.1:39888",
					"namesrvAddr=127.0.0.1:39876;127.0.0.1:39877;127.0.0.1:39878"},
			}},
		{ActiveMQ, "127.0.0.1:62613,127.0.0.1:62623", "http://127.0.0.1:62661/api/jolokia,http://127.0.0.1:62662/api/jolokia", 2,
			func(p int) bool { return slices.Contains([]int{62613, 62623, 62616, 62626, 62661, 62662}, p) }, 0,
			map[string][]string{
				"node1/conf/activemq.xml": {`id="kahadb" directory="/state/c/shared/kahadb" journalDiskSyncStrategy="always">`, "stomp://127.0.0.1:62613?",
					`persistenceAdapter="#kahadb"`, `<entry key="` + KahaDBSettingsMBean + `" value-ref="kahadb"/>`},
				"node2/conf/activemq.xml":       {`id="kahadb" directory="/state/c/shared/kahadb" journalDiskSyncStrategy="always">`, "stomp://127.0.0.1:62623?"},
				"node1/conf/jolokia.properties": {"host=127.0.0.1", "port=62661", "agentContext=/api/jolokia", "policyLocation=file:///state/c/node1/conf/jolokia-access.xml"},
				"node2/conf/jolokia.properties": {"host=127.0.0.1", "port=62662", "policyLocation=file:///state/c/node2/conf/jolokia-access.xml"},
				"node2/conf/jolokia-access.xml": {"<command>read</command>"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := FindTopology(tc.name, TopologyCluster)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Addr(); got != tc.addr {
				t.Errorf("Addr() = %q, want %q", got, tc.addr)
			}
			if got := s.ManagementURL(); got != tc.mgmt {
				t.Errorf("ManagementURL() = %q, want %q", got, tc.mgmt)
			}
			if len(s.Nodes) != tc.nodes || len(s.procs) != tc.nodes {
				t.Errorf("%d nodes, %d processes, want %d", len(s.Nodes), len(s.procs), tc.nodes)
			}
			files, err := renderFiles(s, "/state/c", false)
			if err != nil {
				t.Fatal(err)
			}
			text := map[string]string{}
			for _, f := range files {
				text[f.path] = string(f.data)
				if strings.Contains(text[f.path], "0.0.0.0") {
					t.Errorf("%s contains the wildcard address", f.path)
				}
			}
			for path, wants := range tc.mustHave {
				for _, w := range wants {
					if !strings.Contains(text[path], w) {
						t.Errorf("%s lacks %q", path, w)
					}
				}
			}
			covered, exposed := map[int]bool{}, 0
			for _, b := range s.binds {
				covered[b.port] = true
				if b.exposed != "" {
					exposed++
					continue
				}
				m := b.setting.FindStringSubmatch(text[b.file])
				if m == nil || !loopback(m[1]) {
					t.Errorf("%s (port %d): %s sets %v, want a loopback address", b.role, b.port, b.file, m)
				}
			}
			if exposed != tc.exposed {
				t.Errorf("%d ports on every interface, want %d", exposed, tc.exposed)
			}
			for _, n := range s.Nodes {
				for _, p := range append([]int{n.ClientPort}, n.Ports...) {
					if !covered[p] {
						t.Errorf("%s port %d: no bind setting and no documented exception", n.Name, p)
					}
					if !tc.inRange(p) {
						t.Errorf("%s port %d is outside the broker's cluster ports", n.Name, p)
					}
				}
			}
		})
	}
}

// TestWaitBindable: a port held by a listener is not bindable (the wait
// gives up at its bound with an error naming the port); a free one is.
func TestWaitBindable(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ctx := context.Background()
	if err := waitBindable(ctx, []int{port}, 600*time.Millisecond); err == nil || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("waitBindable on a listening port: %v, want an error naming port %d", err, port)
	}
	ln.Close()
	if err := waitBindable(ctx, []int{port}, 5*time.Second); err != nil {
		t.Fatalf("waitBindable on a closed port: %v", err)
	}
}
