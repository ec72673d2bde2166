package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestQuorumPromise: the replica count is a majority of the members read
// back, and only a read makes the promise verified.
func TestQuorumPromise(t *testing.T) {
	three := []string{"a@h", "b@h", "c@h"}
	for _, tc := range []struct {
		name     string
		qs       []queueInfo
		rerr     error
		replicas int
		verified bool
		synced   bool
	}{
		{"read, three members", []queueInfo{{Name: "q", Type: "quorum", Durable: true, Members: three, Online: three, Leader: "a@h"}}, nil, 2, true, true},
		{"read, fewest members decide", []queueInfo{
			{Name: "q1", Type: "quorum", Durable: true, Members: three},
			{Name: "q2", Type: "quorum", Durable: true, Members: three[:1]}}, nil, 1, true, true},
		{"a classic queue is not synced by Raft", []queueInfo{{Name: "q", Type: "classic", Durable: true, Members: nil}}, nil, 1, true, false},
		{"not read: assumed from the node count", nil, errNoManagement, 2, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			du := quorumPromise(max(1, len(tc.qs)), 3, tc.qs, "http://x", tc.rerr)
			if du.Replicas != tc.replicas || du.Verified != tc.verified || du.Synced != tc.synced {
				t.Fatalf("got replicas %d verified %v synced %v, want %d %v %v (%+v)", du.Replicas, du.Verified, du.Synced, tc.replicas, tc.verified, tc.synced, du)
			}
			if tc.rerr != nil && !strings.Contains(du.Settings["members"], "not read") {
				t.Fatalf("members setting %q does not say it was not read", du.Settings["members"])
			}
		})
	}
}

// TestReadQueues: the management API is asked for each queue in the AMQP
// URL's vhost with its credentials; a node that does not answer is
// skipped for the next URL, and when none answers the error names them.
func TestReadQueues(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.EscapedPath())
		if u, p, ok := r.BasicAuth(); !ok || u != "bob" || p != "pw" {
			http.Error(w, "not authorised", http.StatusUnauthorized)
			return
		}
		name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		fmt.Fprintf(w, `{"name":%q,"type":"quorum","durable":true,"leader":"a@h","members":["a@h","b@h","c@h"],"online":["a@h","b@h"]}`, name)
	}))
	defer srv.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := &Driver{url: newEndpoints([]string{"amqp://bob:pw@127.0.0.1:5672/"})}
	d.cfg.ManagementURL = dead.URL + "," + srv.URL
	qs, src, err := d.readQueues(ctx, []string{"mq.q-g1", "mq.q-g2"})
	if err != nil {
		t.Fatal(err)
	}
	if src != srv.URL || len(qs) != 2 || qs[1].Name != "mq.q-g2" || len(qs[0].Members) != 3 || len(qs[0].Online) != 2 {
		t.Fatalf("src %q queues %+v", src, qs)
	}
	if want := "/api/queues/%2F/mq.q-g1"; asked[0] != want {
		t.Fatalf("asked %q, want %q", asked[0], want)
	}

	d.cfg.ManagementURL = dead.URL
	if _, _, err := d.readQueues(ctx, []string{"q"}); err == nil || !strings.Contains(err.Error(), dead.URL) {
		t.Fatalf("dead management URL: err %v, want one naming it", err)
	}
	d.cfg.ManagementURL = ""
	if _, _, err := d.readQueues(ctx, []string{"q"}); !errors.Is(err, errNoManagement) {
		t.Fatalf("no management URL: err %v, want errNoManagement", err)
	}
	d.cfg.ManagementURL = "ftp://x"
	if _, _, err := d.readQueues(ctx, []string{"q"}); err == nil || !strings.Contains(err.Error(), "management URL") {
		t.Fatalf("bad management URL: err %v", err)
	}
}

// TestQueueReplicas: the leader and online members are mapped to their
// nodes' AMQP listeners; a classic queue lives on its node alone; a leader
// without a listener is an error, not a guess.
func TestQueueReplicas(t *testing.T) {
	ls := []listener{
		{Node: "a@h", Protocol: "amqp", IP: "127.0.0.1", Port: 5682},
		{Node: "a@h", Protocol: "clustering", IP: "127.0.0.1", Port: 25682},
		{Node: "b@h", Protocol: "amqp", IP: "127.0.0.1", Port: 5683},
		{Node: "c@h", Protocol: "amqp", IP: "127.0.0.1", Port: 5684},
	}
	for _, tc := range []struct {
		name    string
		q       queueInfo
		leader  string
		inSync  []string
		wantErr bool
	}{
		{"quorum, one member down", queueInfo{Type: "quorum", Leader: "b@h", Members: []string{"a@h", "b@h", "c@h"}, Online: []string{"b@h", "c@h"}}, "127.0.0.1:5683", []string{"127.0.0.1:5683", "127.0.0.1:5684"}, false},
		{"classic", queueInfo{Type: "classic", Node: "c@h"}, "127.0.0.1:5684", []string{"127.0.0.1:5684"}, false},
		{"leader unknown", queueInfo{Type: "quorum", Leader: "z@h", Online: []string{"z@h"}}, "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader, inSync, err := queueReplicas(tc.q, ls)
			if (err != nil) != tc.wantErr || leader != tc.leader || fmt.Sprint(inSync) != fmt.Sprint(tc.inSync) {
				t.Fatalf("got %q %v %v, want %q %v (error %v)", leader, inSync, err, tc.leader, tc.inSync, tc.wantErr)
			}
		})
	}
}

// TestLostAt: after a lost connection a cluster's clients wait
// clusterRedialPause before reconnecting; a single node's reconnect at once.
func TestLostAt(t *testing.T) {
	for _, tc := range []struct {
		urls int
		min  time.Duration
		max  time.Duration
	}{{1, 0, 0}, {3, clusterRedialPause - 50*time.Millisecond, clusterRedialPause}} {
		d := &Driver{url: newEndpoints(make([]string, tc.urls))}
		from := d.lostAt(time.Time{})
		wait := time.Duration(0)
		if !from.IsZero() {
			wait = redialPause - time.Since(from)
		}
		if wait < tc.min || wait > tc.max {
			t.Errorf("%d nodes: reconnect wait %v, want within [%v, %v]", tc.urls, wait, tc.min, tc.max)
		}
	}
}
