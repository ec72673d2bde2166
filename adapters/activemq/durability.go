package activemq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mqbench/mqbench/adapters/driver"
)

// DefaultManagementPort and DefaultManagementPath are where the ActiveMQ
// distribution's web console serves Jolokia, and where mqbench's native
// launcher attaches the Jolokia JVM agent: the default management URL is
// http://<host of Config.Addr>:8161/api/jolokia.
const (
	DefaultManagementPort = 8161
	DefaultManagementPath = "/api/jolokia"
)

// KahaDBSettingsMBean is the MBean that carries the live KahaDB adapter's
// journal sync settings. ActiveMQ's own PersistenceAdapter MBean does not
// expose them, so mqbench's activemq.xml exports the adapter's getters
// JournalDiskSyncStrategy, EnableJournalDiskSyncs and JournalDiskSyncInterval
// under this name with Spring's MBeanExporter (see the README for a broker
// of your own). It must equal compose/launch.KahaDBSettingsMBean.
const KahaDBSettingsMBean = "org.apache.activemq:type=Broker,brokerName=mqbench,service=PersistenceAdapter,instanceName=KahaDBSettings"

// maxManagementBody bounds a Jolokia answer.
const maxManagementBody = 1 << 20

// errNoManagement is why a broker list without a management URL is not
// read back: the default URL names one host's port 8161, which is no
// broker of the list (or another broker on the same host).
var errNoManagement = errors.New("a broker list needs --management (one management URL per broker, comma-separated)")

// Durability implements driver.DurabilityReader. STOMP carries the message
// persistence and receipts (the producer's settings) but no frame reads the
// broker's KahaDB journal sync, so Durability reads it from the broker over
// Jolokia (KahaDBSettingsMBean at the management URL). Config.ManagementURL
// may list several URLs, comma-separated (one per broker of a master/slave
// group): they are tried in turn, each within Config.Timeout(), and the
// first that answers the read is used (a slave has not registered the
// MBean). With several brokers in Config.Addr and no management URL
// nothing is read. When no read succeeds, the durable promise is not
// verified and promises no sync: it says why.
func (d *Driver) Durability(ctx context.Context, dest driver.Destination) (driver.Durability, error) {
	urls, err := managementURLs(d.cfg.ManagementURL, d.brokers)
	if err != nil {
		return driver.Durability{}, fmt.Errorf("activemq: %w", err)
	}
	var journal map[string]string
	src := "no management URL"
	if len(urls) == 0 {
		err = errNoManagement
	} else {
		journal, src, err = readFirst(ctx, urls, d.cfg.Timeout())
	}
	du := activemqPromise(d.profile, journal, src, err)
	if n := len(d.brokers.addrs); n > 1 && du.Replicas > 0 {
		// A shared-store master/slave group: one copy of the store.
		du.Settings["brokers"] = d.brokers.String()
		du.Promise += fmt.Sprintf("; %d brokers listed share one store (master/slave): a confirmed message survives the master's death in that single copy, not on a replica", n)
	}
	return du, nil
}

// readFirst reads KahaDBSettingsMBean from each URL in turn, each read
// bounded by timeout, and returns the first answer with the (redacted) URL
// that gave it. When none answers, src lists them all and err joins their
// errors.
func readFirst(ctx context.Context, urls []*url.URL, timeout time.Duration) (journal map[string]string, src string, err error) {
	var errs []error
	var names []string
	for _, u := range urls {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		j, rerr := readJolokia(rctx, u, KahaDBSettingsMBean)
		cancel()
		if rerr == nil {
			return j, u.Redacted(), nil
		}
		names = append(names, u.Redacted())
		if len(urls) > 1 {
			rerr = fmt.Errorf("%s: %w", u.Redacted(), rerr)
		}
		errs = append(errs, rerr)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, strings.Join(names, ","), errors.Join(errs...)
}

// managementURLs returns the Jolokia URLs to try: those of the
// comma-separated list explicit when set (blanks dropped); else the default
// on the host of the only STOMP address; else, for a broker list, none.
func managementURLs(explicit string, brokers *brokerList) ([]*url.URL, error) {
	var raws []string
	for _, r := range strings.Split(explicit, ",") {
		if r = strings.TrimSpace(r); r != "" {
			raws = append(raws, r)
		}
	}
	if len(raws) == 0 {
		if len(brokers.addrs) > 1 {
			return nil, nil
		}
		u, err := managementURL("", brokers.current())
		if err != nil {
			return nil, err
		}
		return []*url.URL{u}, nil
	}
	urls := make([]*url.URL, 0, len(raws))
	for _, r := range raws {
		u, err := managementURL(r, "")
		if err != nil {
			return nil, err
		}
		urls = append(urls, u)
	}
	return urls, nil
}

// managementURL returns the Jolokia URL: explicit when set, else the
// default on the host of the STOMP address addr.
func managementURL(explicit, addr string) (*url.URL, error) {
	raw := explicit
	if raw == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("management URL from address %q: %w", addr, err)
		}
		raw = "http://" + net.JoinHostPort(host, strconv.Itoa(DefaultManagementPort)) + DefaultManagementPath
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("management URL %q: want http(s)://host:port/path of a Jolokia agent", redactRaw(raw))
	}
	return u, nil
}

// readJolokia reads every attribute of mbean with one Jolokia read request
// (POST, so that the name needs no escaping) and returns them as strings.
func readJolokia(ctx context.Context, u *url.URL, mbean string) (map[string]string, error) {
	body, _ := json.Marshal(map[string]string{"type": "read", "mbean": mbean})
	target := *u
	target.User = nil
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if u.User != nil {
		pw, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jolokia: %w", err)
	}
	defer resp.Body.Close()
	var ans struct {
		Status int                        `json:"status"`
		Error  string                     `json:"error"`
		Type   string                     `json:"error_type"`
		Value  map[string]json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxManagementBody)).Decode(&ans); err != nil {
		return nil, fmt.Errorf("jolokia: HTTP %d, not a Jolokia answer: %w", resp.StatusCode, err)
	}
	if ans.Status != http.StatusOK {
		return nil, fmt.Errorf("jolokia: read %s: status %d %s %s", mbean, ans.Status, ans.Type, ans.Error)
	}
	out := make(map[string]string, len(ans.Value))
	for k, v := range ans.Value {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		out[k] = s
	}
	return out, nil
}

// activemqPromise states what a receipt means under profile p, given the
// journal settings read from the management URL src (err when no read
// succeeded).
func activemqPromise(p driver.Profile, journal map[string]string, src string, err error) driver.Durability {
	set := map[string]string{"persistent": "false", "receipt": "on"}
	du := driver.Durability{Settings: set, Replicas: 1,
		Source: "the producer's STOMP headers; KahaDB's journal sync read over Jolokia (" + src + ", MBean " + KahaDBSettingsMBean + ")"}
	strategy := ""
	if err == nil {
		for _, k := range []string{"JournalDiskSyncStrategy", "EnableJournalDiskSyncs", "JournalDiskSyncInterval"} {
			if v, ok := journal[k]; ok {
				set["kahadb."+lowerFirst(k)] = v
			}
		}
		strategy = strings.ToLower(journal["JournalDiskSyncStrategy"])
	}
	// Only the durable profile's promise depends on the journal sync; the
	// others follow from the producer's headers alone.
	du.Verified = p != driver.Durable || strategy != ""
	if err != nil && p != driver.Durable {
		du.Source += "; the journal sync was not read (" + oneLineErr(err) + ")"
	}
	switch p {
	case driver.Durable:
		set["persistent"] = "true"
		du.Synced = strategy == "always"
		switch {
		case du.Synced:
			du.Promise = "persistent message stored in KahaDB and the journal fsynced before the receipt (journalDiskSyncStrategy=always, read back from the broker)"
		case du.Verified:
			du.Promise = "persistent message written to KahaDB's journal before the receipt, fsynced later (journalDiskSyncStrategy=" + strategy + ", read back from the broker)"
		case err != nil:
			du.Promise = "persistent message stored in KahaDB before the receipt; whether the journal is fsynced first could not be read back (" + oneLineErr(err) + ")"
		default:
			du.Promise = "persistent message stored in KahaDB before the receipt; the broker did not report journalDiskSyncStrategy"
		}
	case driver.Fast:
		du.Promise = "non-persistent message held in broker memory at the receipt"
	default:
		set["receipt"] = "off"
		du.Replicas = 0
		du.Promise = "none: sent without receipts (unsafe profile)"
	}
	return du
}

// lowerFirst turns a JMX attribute name into the setting's own spelling
// (JournalDiskSyncStrategy -> journalDiskSyncStrategy).
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// redactRaw hides anything between "://" and "@" of a URL that did not parse.
func redactRaw(raw string) string {
	if i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@"); i >= 0 && j > i {
		return raw[:i+3] + "xxxxx" + raw[j:]
	}
	return raw
}

// oneLineErr is err's text on one line.
func oneLineErr(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
