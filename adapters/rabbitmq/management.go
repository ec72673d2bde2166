package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// maxManagementBody bounds one answer of the management HTTP API.
const maxManagementBody = 1 << 20

// errNoManagement is why a quorum queue's members stay assumed: AMQP 0-9-1
// cannot read them, and no management URL was given.
var errNoManagement = errors.New("no management URL (--management http://host:15672,...): AMQP 0-9-1 cannot read a quorum queue's members")

// queueInfo is what the management API reports of one queue.
type queueInfo struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Durable bool     `json:"durable"`
	Leader  string   `json:"leader"`
	Members []string `json:"members"`
	Online  []string `json:"online"`
	// Node is a classic queue's node (a quorum queue has Leader).
	Node string `json:"node"`
}

// managementBases parses Config.ManagementURL, a comma-separated list of
// the cluster's management API roots (http://host:port, any node answers
// for the whole cluster).
func managementBases(raw string) ([]*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errNoManagement
	}
	var out []*url.URL
	for _, r := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("management URL %q: want http(s)://host:port of the RabbitMQ management plugin", redact(r))
		}
		out = append(out, u)
	}
	return out, nil
}

// getter performs one GET of the management API path (below /api/) and
// decodes its JSON answer into v.
type getter func(path string, v any) error

// withManagement calls f with a getter on each management URL in turn until
// f succeeds, authenticating as the AMQP URL's user (guest/guest by
// default) unless the management URL has its own; each attempt is bounded
// by the driver's operation timeout. It returns the URL that answered.
func (d *Driver) withManagement(ctx context.Context, f func(get getter) error) (string, error) {
	bases, err := managementBases(d.cfg.ManagementURL)
	if err != nil {
		return "", err
	}
	cred, err := amqp091URI(d.url.urls[0])
	if err != nil {
		return "", err
	}
	var errs []error
	for _, base := range bases {
		user, pass := cred.user, cred.pass
		if base.User != nil {
			user = base.User.Username()
			pass, _ = base.User.Password()
		}
		root := *base
		root.User = nil
		prefix := strings.TrimSuffix(root.String(), "/") + "/api/"
		actx, cancel := context.WithTimeout(ctx, d.opTimeout())
		err := f(func(path string, v any) error { return getJSON(actx, prefix+path, user, pass, v) })
		cancel()
		if err == nil {
			return redact(base.String()), nil
		}
		errs = append(errs, fmt.Errorf("management %s: %w", redact(base.String()), err))
	}
	return "", errors.Join(errs...)
}

// readQueues reads the named queues of the AMQP URL's vhost from the first
// management URL that answers, and returns them with that URL.
func (d *Driver) readQueues(ctx context.Context, names []string) ([]queueInfo, string, error) {
	vhost, err := d.vhost()
	if err != nil {
		return nil, "", err
	}
	var out []queueInfo
	src, err := d.withManagement(ctx, func(get getter) error {
		out = out[:0]
		for _, n := range names {
			var q queueInfo
			if err := get(queuePath(vhost, n), &q); err != nil {
				return fmt.Errorf("queue %s: %w", n, err)
			}
			out = append(out, q)
		}
		return nil
	})
	return out, src, err
}

// queuePath is the management API path of queue name in vhost.
func queuePath(vhost, name string) string {
	return "queues/" + url.PathEscape(vhost) + "/" + url.PathEscape(name)
}

// vhost is the virtual host of the AMQP URL the driver dials.
func (d *Driver) vhost() (string, error) {
	u, err := amqp091URI(d.url.urls[0])
	return u.vhost, err
}

// opTimeout is the driver's bound on one operation (its default when the
// driver was built without one, as in unit tests).
func (d *Driver) opTimeout() time.Duration {
	if d.timeout > 0 {
		return d.timeout
	}
	return d.cfg.Timeout()
}

// getJSON performs one GET of target, bounded by ctx, and decodes the JSON
// answer into v.
func getJSON(ctx context.Context, target, user, pass string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxManagementBody)).Decode(v); err != nil {
		return fmt.Errorf("not the JSON document expected: %w", err)
	}
	return nil
}

// amqpURI is what the management API needs of an AMQP URL.
type amqpURI struct{ user, pass, vhost string }

// amqp091URI parses an AMQP URL (as brokerURL made it) for its
// credentials and vhost.
func amqp091URI(raw string) (amqpURI, error) {
	u, err := amqp.ParseURI(raw)
	if err != nil {
		return amqpURI{}, fmt.Errorf("rabbitmq: bad broker URL %q: %w", redact(raw), err)
	}
	return amqpURI{user: u.Username, pass: u.Password, vhost: u.Vhost}, nil
}
