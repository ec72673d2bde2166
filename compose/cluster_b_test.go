package compose

import (
	"fmt"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// TestComposeActiveMQCluster: the two brokers of the activemq-cluster
// profile mount one named volume and lock one KahaDB directory on it, and
// each publishes its own STOMP and OpenWire ports.
func TestComposeActiveMQCluster(t *testing.T) {
	p := load(t, "activemq-cluster")
	stores := map[string]bool{}
	for i, ports := range [][2]string{{"62613", "62616"}, {"62623", "62626"}} {
		name := fmt.Sprintf("activemq-cluster-%d", i+1)
		svc, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		for _, v := range svc.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Target == "/opt/apache-activemq/shared" {
				stores[v.Source] = true
			}
		}
		conf := p.Configs[fmt.Sprintf("activemq_cluster_xml_%d", i+1)].Content
		for _, want := range []string{`<kahaDB directory="/opt/apache-activemq/shared/kahadb" journalDiskSyncStrategy="always">`,
			"stomp://0.0.0.0:" + ports[0] + "?", "tcp://0.0.0.0:" + ports[1] + "?"} {
			if !strings.Contains(conf, want) {
				t.Errorf("%s: activemq.xml lacks %q", name, want)
			}
		}
		published := map[string]bool{}
		for _, port := range svc.Ports {
			published[port.Published] = true
		}
		if !published[ports[0]] || !published[ports[1]] {
			t.Errorf("%s publishes %v, want %v", name, svc.Ports, ports)
		}
	}
	if len(stores) != 1 {
		t.Errorf("the brokers mount %v at the shared store path, want one volume for both", stores)
	}
}

// TestComposeRocketMQCluster: three name servers embedding a controller
// group of three, and three brokers of one group in controller mode that
// wait for their whole sync state set, each with its own ports and store.
func TestComposeRocketMQCluster(t *testing.T) {
	p := load(t, "rocketmq-cluster")
	if len(p.Services) != 6 {
		t.Fatalf("rocketmq-cluster starts %d services, want 6", len(p.Services))
	}
	for i := 1; i <= 3; i++ {
		ns := p.Configs[fmt.Sprintf("rocketmq_cluster_namesrv_%d", i)].Content
		for _, want := range []string{"enableControllerInNamesrv=true", fmt.Sprintf("listenPort=%d", 39875+i),
			fmt.Sprintf("controllerDLegerSelfId=n%d", i-1), "bindAddress=127.0.0.1",
			"controllerDLegerPeers=n0-127.0.0.1:39886;n1-127.0.0.1:39887;n2-127.0.0.1:39888"} {
			if !strings.Contains(ns, want) {
				t.Errorf("name server %d config lacks %q", i, want)
			}
		}
		br := p.Configs[fmt.Sprintf("rocketmq_cluster_broker_%d", i)].Content
		for _, want := range []string{"enableControllerMode=true", "allAckInSyncStateSet=true", "flushDiskType=SYNC_FLUSH",
			"brokerName=broker-a", "controllerAddr=127.0.0.1:39886;127.0.0.1:39887;127.0.0.1:39888",
			fmt.Sprintf("listenPort=%d", 39911+10*(i-1)), "bindAddress=127.0.0.1"} {
			if !strings.Contains(br, want) {
				t.Errorf("broker %d config lacks %q", i, want)
			}
		}
		svc := p.Services[fmt.Sprintf("rocketmq-cluster-broker-%d", i)]
		if svc.NetworkMode != "host" || len(svc.Ports) != 0 {
			t.Errorf("broker %d: network %q, ports %v; want the host network and no published port", i, svc.NetworkMode, svc.Ports)
		}
	}
}
