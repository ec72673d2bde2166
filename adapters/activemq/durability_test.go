package activemq

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

func TestManagementURL(t *testing.T) {
	for _, tc := range []struct {
		explicit, addr, want, err string
	}{
		{"", "127.0.0.1:61613", "http://127.0.0.1:8161/api/jolokia", ""},
		{"", "[::1]:61613", "http://[::1]:8161/api/jolokia", ""},
		{"http://admin:secret@mq.example:8161/api/jolokia", "x:1", "http://admin:xxxxx@mq.example:8161/api/jolokia", ""},
		{"", "no-port", "", "management URL from address"},
		{"ftp://h/x", "h:1", "", "want http(s)://host:port/path"},
		{"http://u:pw@", "h:1", "", "http://xxxxx@"},
	} {
		u, err := managementURL(tc.explicit, tc.addr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("managementURL(%q, %q) error %v, want one containing %q", tc.explicit, tc.addr, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("error %q shows the password", err)
			}
			continue
		}
		if err != nil || u.Redacted() != tc.want {
			t.Errorf("managementURL(%q, %q) = %v, %v; want %s", tc.explicit, tc.addr, u, err, tc.want)
		}
	}
}

// jolokiaStub answers Jolokia read requests the way the agent does, with
// value (or, when status is not 200, an error), and records the requests.
func jolokiaStub(t *testing.T, status int, value map[string]any) (*httptest.Server, *[]map[string]string) {
	t.Helper()
	var got []map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &req)
		if u, p, ok := r.BasicAuth(); ok {
			req["auth"] = u + ":" + p
		}
		got = append(got, req)
		ans := map[string]any{"status": status, "request": req}
		if status == http.StatusOK {
			ans["value"] = value
		} else {
			ans["error_type"], ans["error"] = "javax.management.InstanceNotFoundException", req["mbean"]
		}
		_ = json.NewEncoder(w).Encode(ans)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestDurabilityReadsJournalSync(t *testing.T) {
	always := map[string]any{"JournalDiskSyncStrategy": "ALWAYS", "EnableJournalDiskSyncs": true, "JournalDiskSyncInterval": 1000}
	periodic := map[string]any{"JournalDiskSyncStrategy": "PERIODIC", "EnableJournalDiskSyncs": false, "JournalDiskSyncInterval": 1000}
	for _, tc := range []struct {
		name                   string
		profile                driver.Profile
		status                 int
		value                  map[string]any
		synced, verified       bool
		strategy, promiseShows string
	}{
		{"durable always", driver.Durable, 200, always, true, true, "ALWAYS", "fsynced before the receipt"},
		{"durable periodic", driver.Durable, 200, periodic, false, true, "PERIODIC", "fsynced later"},
		{"durable, no such MBean", driver.Durable, 404, nil, false, false, "", "could not be read back"},
		{"durable, MBean without the strategy", driver.Durable, 200, map[string]any{"Other": 1}, false, false, "", "did not report"},
		{"fast", driver.Fast, 200, always, false, true, "ALWAYS", "broker memory"},
		{"fast, not read", driver.Fast, 404, nil, false, true, "", "broker memory"},
		{"unsafe", driver.Unsafe, 200, periodic, false, true, "PERIODIC", "without receipts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, reqs := jolokiaStub(t, tc.status, tc.value)
			d := &Driver{cfg: driver.Config{ManagementURL: strings.Replace(srv.URL, "http://", "http://admin:pw@", 1) + "/api/jolokia", OpTimeout: 5 * time.Second},
				brokers: newBrokerList("127.0.0.1:1"), profile: tc.profile}
			du, err := d.Durability(context.Background(), driver.Destination{Name: "d"})
			if err != nil {
				t.Fatal(err)
			}
			if du.Synced != tc.synced || du.Verified != tc.verified {
				t.Errorf("synced %v verified %v, want %v %v: %+v", du.Synced, du.Verified, tc.synced, tc.verified, du)
			}
			if du.Settings["kahadb.journalDiskSyncStrategy"] != tc.strategy {
				t.Errorf("settings %v, want journalDiskSyncStrategy %q", du.Settings, tc.strategy)
			}
			if !strings.Contains(du.Promise, tc.promiseShows) {
				t.Errorf("promise %q lacks %q", du.Promise, tc.promiseShows)
			}
			if strings.Contains(du.Source+du.Promise, ":pw@") {
				t.Errorf("the password shows in %q / %q", du.Source, du.Promise)
			}
			if len(*reqs) != 1 || (*reqs)[0]["type"] != "read" || (*reqs)[0]["mbean"] != KahaDBSettingsMBean || (*reqs)[0]["auth"] != "admin:pw" {
				t.Errorf("requests %v, want one authenticated read of %s", *reqs, KahaDBSettingsMBean)
			}
		})
	}
}

// TestDurabilityDeadline: an agent that never answers fails the read
// within Config.Timeout, unverified.
func TestDurabilityDeadline(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	d := &Driver{cfg: driver.Config{ManagementURL: srv.URL, OpTimeout: 200 * time.Millisecond}, brokers: newBrokerList("127.0.0.1:1"), profile: driver.Durable}
	du, err := d.Durability(context.Background(), driver.Destination{Name: "d"})
	if err != nil || du.Verified || du.Synced || !strings.Contains(du.Promise, "deadline") {
		t.Fatalf("Durability = %+v, %v: want unverified with a deadline error", du, err)
	}
}

func TestDurabilityBadURL(t *testing.T) {
	d := &Driver{cfg: driver.Config{ManagementURL: "ftp://x"}, brokers: newBrokerList("127.0.0.1:1"), profile: driver.Durable}
	if _, err := d.Durability(context.Background(), driver.Destination{}); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a bad management URL", err)
	}
}

// TestDurabilityManagementList: a comma-separated management URL list is
// tried in turn and the first agent that answers the read is used; a
// broker list without one reads nothing and says it needs --management.
func TestDurabilityManagementList(t *testing.T) {
	always := map[string]any{"JournalDiskSyncStrategy": "ALWAYS"}
	ok, okReqs := jolokiaStub(t, 200, always)
	slave, slaveReqs := jolokiaStub(t, 404, nil)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	for _, tc := range []struct {
		name, mgmt, addrs string
		verified          bool
		source, promise   string
		okN, slaveN       int
	}{
		{"first answers", ok.URL + "," + slave.URL, "a:1,b:2", true, ok.URL, "fsynced before the receipt", 1, 0},
		{"slave then master", slave.URL + ", " + ok.URL, "a:1,b:2", true, ok.URL, "fsynced before the receipt", 1, 1},
		{"dead node then master", deadURL + "," + ok.URL, "a:1,b:2", true, ok.URL, "fsynced before the receipt", 1, 0},
		{"none answers", deadURL + "," + slave.URL, "a:1,b:2", false, deadURL + "," + slave.URL, "could not be read back", 0, 1},
		{"broker list, no URL", "", "127.0.0.1:1,127.0.0.1:2", false, "no management URL", "needs --management", 0, 0},
		{"broker list, blanks only", " , ", "127.0.0.1:1,127.0.0.1:2", false, "no management URL", "needs --management", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*okReqs, *slaveReqs = nil, nil
			d := &Driver{cfg: driver.Config{ManagementURL: tc.mgmt, OpTimeout: 5 * time.Second}, brokers: newBrokerList(tc.addrs), profile: driver.Durable}
			du, err := d.Durability(context.Background(), driver.Destination{Name: "d"})
			if err != nil {
				t.Fatal(err)
			}
			if du.Verified != tc.verified || du.Synced != tc.verified {
				t.Errorf("verified %v synced %v, want %v: %+v", du.Verified, du.Synced, tc.verified, du)
			}
			if !strings.Contains(du.Source, "("+tc.source+",") {
				t.Errorf("source %q does not name %q", du.Source, tc.source)
			}
			if !strings.Contains(du.Promise, tc.promise) || !strings.Contains(du.Promise, "brokers listed share one store") {
				t.Errorf("promise %q lacks %q or the shared store", du.Promise, tc.promise)
			}
			if len(*okReqs) != tc.okN || len(*slaveReqs) != tc.slaveN {
				t.Errorf("reads: %d of the master, %d of the slave; want %d, %d", len(*okReqs), len(*slaveReqs), tc.okN, tc.slaveN)
			}
		})
	}
}

func TestManagementURLs(t *testing.T) {
	for _, tc := range []struct {
		explicit, addrs, want, err string
	}{
		{"", "127.0.0.1:61613", "http://127.0.0.1:8161/api/jolokia", ""},
		{"", "127.0.0.1:62613,127.0.0.1:62623", "", ""},
		{"http://h:1/j, ,http://u:pw@h:2/j", "a:1,b:2", "http://h:1/j http://u:xxxxx@h:2/j", ""},
		{"http://h:1/j", "a:1,b:2", "http://h:1/j", ""},
		{"http://h:1/j,ftp://x", "a:1", "", "want http(s)://"},
	} {
		urls, err := managementURLs(tc.explicit, newBrokerList(tc.addrs))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("managementURLs(%q, %q) error %v, want %q", tc.explicit, tc.addrs, err, tc.err)
			}
			continue
		}
		var got []string
		for _, u := range urls {
			got = append(got, u.Redacted())
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("managementURLs(%q, %q) = %v, %v; want %q", tc.explicit, tc.addrs, got, err, tc.want)
		}
	}
}
