package launch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Handshake is the outcome of one protocol handshake with a broker port.
type Handshake struct {
	// OK is true when the broker answered the protocol's opening exchange
	// correctly (not merely accepted a TCP connection).
	OK bool `json:"ok"`
	// Version is the broker version the handshake revealed, "" when the
	// protocol does not carry it.
	Version string `json:"version,omitempty"`
	// Detail is a short human-readable summary, or the error.
	Detail string `json:"detail,omitempty"`
}

// maxFrame bounds every length read from the wire so that a hostile or broken
// peer cannot make a probe allocate without limit.
const maxFrame = 1 << 20

// dial opens a TCP connection bounded by ctx and timeout and sets the same
// deadline on every later read and write.
func dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		c.Close()
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	return c, nil
}

// ProbeAMQP performs the AMQP 0-9-1 opening: it sends the protocol header and
// expects Connection.Start, whose server-properties carry the version. It
// closes the connection right after (the broker logs a closed connection).
// Blocks at most timeout; safe for concurrent use.
func ProbeAMQP(ctx context.Context, addr string, timeout time.Duration) Handshake {
	c, err := dial(ctx, addr, timeout)
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	defer c.Close()
	if _, err := c.Write([]byte("AMQP\x00\x00\x09\x01")); err != nil {
		return Handshake{Detail: fmt.Sprintf("send protocol header: %v", err)}
	}
	v, err := readConnectionStart(bufio.NewReader(c))
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	return Handshake{OK: true, Version: v.version, Detail: fmt.Sprintf("AMQP %d-%d Connection.Start from %s", v.major, v.minor, nonEmpty(v.product, "server"))}
}

type amqpStart struct {
	major, minor     byte
	product, version string
}

// readConnectionStart reads one AMQP method frame and decodes Connection.Start.
func readConnectionStart(r io.Reader) (amqpStart, error) {
	var hdr [7]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return amqpStart{}, fmt.Errorf("read AMQP frame header: %w", err)
	}
	if string(hdr[:4]) == "AMQP" {
		return amqpStart{}, fmt.Errorf("server rejected protocol version (replied with its own header % x)", hdr[4:])
	}
	if hdr[0] != 1 {
		return amqpStart{}, fmt.Errorf("AMQP frame type %d, want method frame 1", hdr[0])
	}
	size := binary.BigEndian.Uint32(hdr[3:7])
	if size < 4 || size > maxFrame {
		return amqpStart{}, fmt.Errorf("AMQP frame size %d out of range", size)
	}
	payload := make([]byte, size+1)
	if _, err := io.ReadFull(r, payload); err != nil {
		return amqpStart{}, fmt.Errorf("read AMQP frame: %w", err)
	}
	if payload[size] != 0xCE {
		return amqpStart{}, errors.New("AMQP frame without frame-end octet")
	}
	p := payload[:size]
	if binary.BigEndian.Uint16(p[0:2]) != 10 || binary.BigEndian.Uint16(p[2:4]) != 10 {
		return amqpStart{}, fmt.Errorf("AMQP method %d.%d, want Connection.Start 10.10", binary.BigEndian.Uint16(p[0:2]), binary.BigEndian.Uint16(p[2:4]))
	}
	if len(p) < 10 {
		return amqpStart{}, errors.New("AMQP Connection.Start truncated")
	}
	out := amqpStart{major: p[4], minor: p[5]}
	tlen := binary.BigEndian.Uint32(p[6:10])
	if uint64(tlen) > uint64(len(p)-10) {
		return amqpStart{}, errors.New("AMQP server-properties table truncated")
	}
	props, err := amqpStrings(p[10 : 10+tlen])
	if err != nil {
		return amqpStart{}, fmt.Errorf("AMQP server-properties: %w", err)
	}
	out.product, out.version = props["product"], props["version"]
	return out, nil
}

// amqpStrings decodes an AMQP field table and returns its long-string fields.
// It understands every field type RabbitMQ documents and fails on others.
func amqpStrings(t []byte) (map[string]string, error) {
	out := map[string]string{}
	for len(t) > 0 {
		n := int(t[0])
		if len(t) < 1+n+1 {
			return nil, errors.New("field name truncated")
		}
		name := string(t[1 : 1+n])
		typ := t[1+n]
		t = t[2+n:]
		skip, err := amqpValueLen(typ, t)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
		if typ == 'S' {
			out[name] = string(t[4:skip])
		}
		t = t[skip:]
	}
	return out, nil
}

// amqpValueLen returns how many bytes of t the value of type typ occupies.
func amqpValueLen(typ byte, t []byte) (int, error) {
	fixed := map[byte]int{'t': 1, 'b': 1, 'B': 1, 's': 2, 'u': 2, 'I': 4, 'i': 4, 'l': 8, 'L': 8, 'f': 4, 'd': 8, 'D': 5, 'T': 8, 'V': 0}
	if n, ok := fixed[typ]; ok {
		if len(t) < n {
			return 0, errors.New("value truncated")
		}
		return n, nil
	}
	switch typ {
	case 'S', 'F', 'A', 'x':
		if len(t) < 4 {
			return 0, errors.New("length truncated")
		}
		n := 4 + int(binary.BigEndian.Uint32(t[:4]))
		if n < 4 || n > len(t) {
			return 0, errors.New("value truncated")
		}
		return n, nil
	}
	return 0, fmt.Errorf("unknown field type %q", typ)
}

// ProbeSTOMP sends a STOMP 1.2 CONNECT frame and expects CONNECTED; the
// server header carries the version (ActiveMQ: "ActiveMQ/6.3.1", Artemis:
// "ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine"). It sends
// DISCONNECT before closing. Blocks at most timeout.
func ProbeSTOMP(ctx context.Context, addr string, timeout time.Duration) Handshake {
	c, err := dial(ctx, addr, timeout)
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	defer c.Close()
	if _, err := io.WriteString(c, "CONNECT\naccept-version:1.0,1.1,1.2\nhost:localhost\nheart-beat:0,0\n\n\x00"); err != nil {
		return Handshake{Detail: fmt.Sprintf("send CONNECT: %v", err)}
	}
	frame, err := readSTOMPFrame(bufio.NewReader(c))
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	cmd, headers := parseSTOMPFrame(frame)
	if cmd != "CONNECTED" {
		return Handshake{Detail: fmt.Sprintf("STOMP answered %s: %s", nonEmpty(cmd, "nothing"), headers["message"])}
	}
	_, _ = io.WriteString(c, "DISCONNECT\n\n\x00")
	h := Handshake{OK: true, Detail: "STOMP " + nonEmpty(headers["version"], "1.0") + " CONNECTED"}
	if s := headers["server"]; s != "" {
		h.Detail += " from " + s
		// "ActiveMQ/6.3.1", "ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine"
		product, _, _ := strings.Cut(s, " ")
		if i := strings.LastIndexByte(product, '/'); i >= 0 {
			h.Version = product[i+1:]
		}
	}
	return h
}

// readSTOMPFrame reads up to the NUL that ends a frame, skipping heart-beat
// newlines, bounded by maxFrame.
func readSTOMPFrame(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for b.Len() < maxFrame {
		c, err := r.ReadByte()
		if err != nil {
			return "", fmt.Errorf("read STOMP frame: %w", err)
		}
		if c == 0 {
			return b.String(), nil
		}
		if b.Len() == 0 && (c == '\n' || c == '\r') {
			continue
		}
		b.WriteByte(c)
	}
	return "", errors.New("STOMP frame too large")
}

func parseSTOMPFrame(f string) (string, map[string]string) {
	head, _, _ := strings.Cut(f, "\n\n")
	lines := strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n")
	h := map[string]string{}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			if _, dup := h[k]; !dup {
				h[k] = v
			}
		}
	}
	return strings.TrimSpace(lines[0]), h
}

// ProbeKafka sends an ApiVersions (key 18) v0 request and expects error code
// 0 and a non-empty API list. Kafka does not report its release over the wire,
// so Version stays empty. Blocks at most timeout.
func ProbeKafka(ctx context.Context, addr string, timeout time.Duration) Handshake {
	c, err := dial(ctx, addr, timeout)
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	defer c.Close()
	const corr = 0x6d716231
	clientID := "mqbench-status"
	req := binary.BigEndian.AppendUint32(nil, uint32(2+2+4+2+len(clientID)))
	req = binary.BigEndian.AppendUint16(req, 18) // ApiVersions
	req = binary.BigEndian.AppendUint16(req, 0)  // version 0
	req = binary.BigEndian.AppendUint32(req, corr)
	req = binary.BigEndian.AppendUint16(req, uint16(len(clientID)))
	req = append(req, clientID...)
	if _, err := c.Write(req); err != nil {
		return Handshake{Detail: fmt.Sprintf("send ApiVersions: %v", err)}
	}
	n, err := parseAPIVersions(c, corr)
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	return Handshake{OK: true, Detail: fmt.Sprintf("ApiVersions: %d APIs", n)}
}

// parseAPIVersions reads an ApiVersions v0 response and returns the number of
// APIs listed.
func parseAPIVersions(r io.Reader, corr uint32) (int, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return 0, fmt.Errorf("read ApiVersions response: %w", err)
	}
	size := binary.BigEndian.Uint32(sz[:])
	if size < 10 || size > maxFrame {
		return 0, fmt.Errorf("ApiVersions response size %d out of range", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, fmt.Errorf("read ApiVersions response: %w", err)
	}
	if got := binary.BigEndian.Uint32(b[0:4]); got != corr {
		return 0, fmt.Errorf("ApiVersions correlation id %d, want %d", got, corr)
	}
	if code := int16(binary.BigEndian.Uint16(b[4:6])); code != 0 {
		return 0, fmt.Errorf("ApiVersions error code %d", code)
	}
	n := int32(binary.BigEndian.Uint32(b[6:10]))
	if n <= 0 || int64(n)*6 > int64(len(b)-10) {
		return 0, fmt.Errorf("ApiVersions lists %d APIs in %d bytes", n, len(b)-10)
	}
	return int(n), nil
}

// RocketMQ remoting request codes used by the probes.
const (
	rmqGetBrokerRuntimeInfo = 28
	rmqGetBrokerClusterInfo = 106
	// Controller mode: a controller's metadata (its leader) and a broker
	// group's sync state set.
	rmqControllerGetMetadata      = 1005
	rmqControllerGetSyncStateData = 1006
)

// rmqCall sends one RocketMQ remoting request (JSON header, no body) and
// returns the response header's code and the raw body.
func rmqCall(ctx context.Context, addr string, timeout time.Duration, code int) (int, []byte, error) {
	c, err := dial(ctx, addr, timeout)
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	if err := writeRemotingRequest(c, code, nil); err != nil {
		return 0, nil, err
	}
	return readRemotingResponse(c)
}

// rmqRequest sends one RocketMQ remoting request with body (nil for none)
// and returns the response header's extFields and the body; an answer
// other than success is an error. Blocks at most timeout.
func rmqRequest(ctx context.Context, addr string, timeout time.Duration, code int, body []byte) (map[string]string, []byte, error) {
	c, err := dial(ctx, addr, timeout)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	if err := writeRemotingRequest(c, code, body); err != nil {
		return nil, nil, err
	}
	var ext map[string]string
	_, b, err := readRemoting(c, &ext)
	return ext, b, err
}

func writeRemotingRequest(w io.Writer, code int, body []byte) error {
	hdr, err := json.Marshal(map[string]any{
		"code": code, "language": "GO", "version": 0, "opaque": 1, "flag": 0,
		"serializeTypeCurrentRPC": "JSON", "extFields": map[string]string{},
	})
	if err != nil {
		return fmt.Errorf("encode remoting header: %w", err)
	}
	req := binary.BigEndian.AppendUint32(nil, uint32(4+len(hdr)+len(body)))
	req = binary.BigEndian.AppendUint32(req, uint32(len(hdr))) // serialize type 0 = JSON in the top byte
	req = append(append(req, hdr...), body...)
	if _, err := w.Write(req); err != nil {
		return fmt.Errorf("send remoting request: %w", err)
	}
	return nil
}

// readRemotingResponse decodes one RocketMQ remoting frame with a JSON header.
func readRemotingResponse(r io.Reader) (int, []byte, error) { return readRemoting(r, nil) }

// readRemoting is readRemotingResponse that also decodes the header's
// extFields into ext when ext is not nil.
func readRemoting(r io.Reader, ext *map[string]string) (int, []byte, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return 0, nil, fmt.Errorf("read remoting response: %w", err)
	}
	total := binary.BigEndian.Uint32(pre[0:4])
	mark := binary.BigEndian.Uint32(pre[4:8])
	if mark>>24 != 0 {
		return 0, nil, fmt.Errorf("remoting header serialize type %d, want JSON", mark>>24)
	}
	hlen := mark & 0xFFFFFF
	if total > maxFrame || total < 4+hlen {
		return 0, nil, fmt.Errorf("remoting frame length %d (header %d) out of range", total, hlen)
	}
	b := make([]byte, total-4)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, fmt.Errorf("read remoting response: %w", err)
	}
	var h struct {
		Code      *int              `json:"code"`
		Remark    string            `json:"remark"`
		ExtFields map[string]string `json:"extFields"`
	}
	if err := json.Unmarshal(b[:hlen], &h); err != nil {
		return 0, nil, fmt.Errorf("decode remoting header: %w", err)
	}
	if ext != nil {
		*ext = h.ExtFields
	}
	if h.Code == nil {
		return 0, nil, errors.New("remoting response without code")
	}
	if *h.Code != 0 {
		return *h.Code, nil, fmt.Errorf("remoting response code %d: %s", *h.Code, h.Remark)
	}
	return 0, b[hlen:], nil
}

// ProbeRocketMQNamesrv asks the name server for the cluster table
// (GET_BROKER_CLUSTER_INFO) and, when wantBroker is not empty, requires that
// broker address to be registered. Blocks at most timeout.
func ProbeRocketMQNamesrv(ctx context.Context, addr, wantBroker string, timeout time.Duration) Handshake {
	_, body, err := rmqCall(ctx, addr, timeout, rmqGetBrokerClusterInfo)
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	if wantBroker != "" && !bytes.Contains(body, []byte(`"`+wantBroker+`"`)) {
		return Handshake{Detail: fmt.Sprintf("name server answers but broker %s is not registered yet", wantBroker)}
	}
	return Handshake{OK: true, Detail: "cluster info answered" + map[bool]string{true: ", broker " + wantBroker + " registered", false: ""}[wantBroker != ""]}
}

var rmqVersionDesc = regexp.MustCompile(`"brokerVersionDesc"\s*:\s*"V?([0-9_A-Za-z.]+)"`)

// ProbeRocketMQBroker asks the broker for its runtime info
// (GET_BROKER_RUNTIME_INFO), which includes its version. Blocks at most
// timeout.
func ProbeRocketMQBroker(ctx context.Context, addr string, timeout time.Duration) Handshake {
	_, body, err := rmqCall(ctx, addr, timeout, rmqGetBrokerRuntimeInfo)
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	h := Handshake{OK: true, Detail: "runtime info answered"}
	if m := rmqVersionDesc.FindSubmatch(body); m != nil {
		h.Version = strings.ReplaceAll(string(m[1]), "_", ".")
	}
	return h
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ProbeOpenWire connects to an ActiveMQ OpenWire port and expects the
// WireFormatInfo the broker sends first (command type 1, magic "ActiveMQ").
// Blocks at most timeout.
func ProbeOpenWire(ctx context.Context, addr string, timeout time.Duration) Handshake {
	c, err := dial(ctx, addr, timeout)
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	defer c.Close()
	var b [13]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return Handshake{Detail: fmt.Sprintf("read WireFormatInfo: %v", err)}
	}
	if b[4] != 1 || string(b[5:13]) != "ActiveMQ" {
		return Handshake{Detail: fmt.Sprintf("no OpenWire WireFormatInfo (got % x)", b[:])}
	}
	return Handshake{OK: true, Detail: "OpenWire WireFormatInfo received"}
}

// ProbeJolokia reads JournalDiskSyncStrategy of KahaDBSettingsMBean from
// the Jolokia agent at addr (JolokiaPath) and expects a Jolokia answer with
// status 200: the agent answers and the broker has registered the MBean
// that mqbench reads its journal sync from. Blocks at most timeout; safe
// for concurrent use.
func ProbeJolokia(ctx context.Context, addr string, timeout time.Duration) Handshake {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"type": "read", "mbean": KahaDBSettingsMBean, "attribute": "JournalDiskSyncStrategy"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+JolokiaPath, bytes.NewReader(body))
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Handshake{Detail: err.Error()}
	}
	defer resp.Body.Close()
	var v struct {
		Status int    `json:"status"`
		Error  string `json:"error_type"`
		Value  any    `json:"value"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxFrame)).Decode(&v); err != nil {
		return Handshake{Detail: fmt.Sprintf("HTTP %d, not a Jolokia answer: %v", resp.StatusCode, err)}
	}
	if v.Status != http.StatusOK {
		return Handshake{Detail: fmt.Sprintf("Jolokia status %d %s (the KahaDB settings MBean is not registered yet)", v.Status, v.Error)}
	}
	return Handshake{OK: true, Detail: fmt.Sprintf("Jolokia: journalDiskSyncStrategy=%v", v.Value)}
}
