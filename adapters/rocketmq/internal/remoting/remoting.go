// Package remoting speaks the small part of RocketMQ's remoting protocol that
// the adapter needs for administration and that rocketmq-client-go/v2 does not
// export: cluster discovery, broker runtime information and configuration,
// topic and subscription group management, offsets and sending a consumed
// message back for a later retry.
//
// A frame is: a 4-byte big-endian length of the rest, a 4-byte word whose
// high byte is the header serialisation (0 = JSON, the only one used here)
// and whose low 3 bytes are the header length, the JSON header, the body.
package remoting

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// Request codes (RocketMQ RequestCode).
const (
	CodeQueryConsumerOffset   = 14
	CodeUpdateConsumerOffset  = 15
	CodeUpdateAndCreateTopic  = 17
	CodeGetBrokerConfig       = 26
	CodeGetBrokerRuntimeInfo  = 28
	CodeGetMaxOffset          = 30
	CodeGetMinOffset          = 31
	CodeConsumerSendMsgBack   = 36
	CodeGetConsumerListByGrp  = 38
	CodeGetRouteInfoByTopic   = 105
	CodeGetBrokerClusterInfo  = 106
	CodeUpdateAndCreateSubGrp = 200
	CodeDeleteSubscriptionGrp = 207
	CodeDeleteTopicInBroker   = 215
	CodeDeleteTopicInNamesrv  = 216
	// Controller requests (RocketMQ 5 controller mode), answered on a
	// controller's address.
	CodeControllerGetMetadata      = 1005
	CodeControllerGetSyncStateData = 1006
)

// Response codes (RocketMQ ResponseCode).
const (
	Success                   = 0
	SystemError               = 1
	SystemBusy                = 2
	TopicNotExist             = 17
	QueryNotFound             = 22
	SubscriptionGroupNotExist = 26
)

// maxFrame bounds a frame read from the network, so that a corrupt or hostile
// length cannot make us allocate without limit.
const maxFrame = 64 << 20

const (
	flagResponse = 1
	flagOneway   = 2
)

// Command is one remoting request or response.
type Command struct {
	Code      int               `json:"code"`
	Language  string            `json:"language"`
	Version   int               `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int               `json:"flag"`
	Remark    string            `json:"remark,omitempty"`
	ExtFields map[string]string `json:"extFields,omitempty"`
	Body      []byte            `json:"-"`
}

// CodeError is a response with a code other than Success.
type CodeError struct {
	Addr    string
	Request int
	Code    int
	Remark  string
}

func (e *CodeError) Error() string {
	return fmt.Sprintf("rocketmq %s: request %d answered code %d: %s", e.Addr, e.Request, e.Code, e.Remark)
}

// IsCode reports whether err is a *CodeError with the given response code.
func IsCode(err error, code int) bool {
	var ce *CodeError
	return errors.As(err, &ce) && ce.Code == code
}

// Encode writes c as one frame.
func Encode(c *Command) ([]byte, error) {
	header, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode remoting header: %w", err)
	}
	if len(header) >= 1<<24 {
		return nil, fmt.Errorf("remoting header too large: %d bytes", len(header))
	}
	total := 4 + len(header) + len(c.Body)
	buf := make([]byte, 4+total)
	binary.BigEndian.PutUint32(buf[0:], uint32(total))
	binary.BigEndian.PutUint32(buf[4:], uint32(len(header))) // high byte 0: JSON
	copy(buf[8:], header)
	copy(buf[8+len(header):], c.Body)
	return buf, nil
}

// Decode reads one frame from r.
func Decode(r io.Reader) (*Command, error) {
	var word [4]byte
	if _, err := io.ReadFull(r, word[:]); err != nil {
		return nil, err
	}
	total := binary.BigEndian.Uint32(word[:])
	if total < 4 || total > maxFrame {
		return nil, fmt.Errorf("remoting frame length %d out of range", total)
	}
	frame := make([]byte, total)
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, fmt.Errorf("read remoting frame: %w", err)
	}
	hw := binary.BigEndian.Uint32(frame[:4])
	kind, hlen := byte(hw>>24), hw&0xFFFFFF
	if uint64(hlen) > uint64(total-4) {
		return nil, fmt.Errorf("remoting header length %d exceeds frame %d", hlen, total)
	}
	if kind != 0 {
		return nil, fmt.Errorf("remoting header serialisation %d not supported (want JSON)", kind)
	}
	c := new(Command)
	if err := json.Unmarshal(frame[4:4+hlen], c); err != nil {
		return nil, fmt.Errorf("decode remoting header: %w", err)
	}
	if body := frame[4+hlen:]; len(body) > 0 {
		c.Body = body
	}
	return c, nil
}

// Client sends requests to RocketMQ servers, one connection per address,
// one request at a time per connection. It is safe for concurrent use.
type Client struct {
	mu sync.Mutex
	// version is sent in every request header. Brokers gate some request
	// fields on it (for example maxReconsumeTimes on a send-back), so it is
	// set to the broker's own version once known.
	version int
	opaque  int32
	conns   map[string]*conn
	closed  bool
	dialer  net.Dialer
}

// conn is one connection. mu serialises requests; nc is written only while
// holding both mu and ncMu, so Close can reach it under ncMu alone while a
// request is in flight.
type conn struct {
	mu   sync.Mutex
	ncMu sync.Mutex
	nc   net.Conn
	br   *bufio.Reader
	used time.Time // last successful request; guarded by mu
}

// idleRedial is how long a connection may sit unused before it is replaced
// rather than reused.
const idleRedial = 30 * time.Second

func (cn *conn) set(nc net.Conn) {
	cn.ncMu.Lock()
	if cn.nc != nil {
		cn.nc.Close()
	}
	cn.nc = nc
	cn.br = nil
	if nc != nil {
		cn.br = bufio.NewReader(nc)
	}
	cn.ncMu.Unlock()
}

// NewClient returns a client with no connections yet.
func NewClient() *Client { return &Client{conns: map[string]*conn{}} }

// SetVersion sets the version sent in request headers.
func (c *Client) SetVersion(v int) {
	c.mu.Lock()
	c.version = v
	c.mu.Unlock()
}

// ErrClientClosed is returned by Invoke after Close.
var ErrClientClosed = errors.New("remoting client closed")

// Invoke sends a request and waits for its response, bounded by ctx (which
// should carry a deadline). A response code other than Success is returned
// as a *CodeError together with the response. Any network error drops the
// connection so the next call redials.
func (c *Client) Invoke(ctx context.Context, addr string, code int, ext map[string]string, body []byte) (*Command, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClientClosed
	}
	cn := c.conns[addr]
	if cn == nil {
		cn = &conn{}
		c.conns[addr] = cn
	}
	c.opaque++
	req := &Command{Code: code, Language: "GO", Version: c.version, Opaque: c.opaque, ExtFields: ext, Body: body}
	c.mu.Unlock()

	frame, err := Encode(req)
	if err != nil {
		return nil, err
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	// Servers close idle connections (the broker after 120 s): do not
	// reuse an old one, and retry once on a reused one that turns out dead
	// before the request could have been read.
	if cn.nc != nil && time.Since(cn.used) > idleRedial {
		cn.set(nil)
	}
	var resp *Command
	for attempt := 0; ; attempt++ {
		reused := cn.nc != nil
		if !reused {
			nc, err := c.dialer.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, fmt.Errorf("dial %s: %w", addr, err)
			}
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			if closed {
				nc.Close()
				return nil, ErrClientClosed
			}
			cn.set(nc)
		}
		var retry bool
		resp, retry, err = cn.roundTrip(ctx, frame, req.Opaque)
		if err == nil {
			cn.used = time.Now()
			break
		}
		cn.set(nil)
		if !(reused && retry && attempt == 0 && ctx.Err() == nil) {
			return nil, fmt.Errorf("rocketmq %s request %d: %w", addr, code, err)
		}
	}
	if resp.Code != Success {
		return resp, &CodeError{Addr: addr, Request: code, Code: resp.Code, Remark: resp.Remark}
	}
	return resp, nil
}

// roundTrip writes frame and reads until the response to opaque. retry is
// true when the connection failed before the server can have read the
// request: the write failed, or the connection was closed before any byte of
// an answer.
func (cn *conn) roundTrip(ctx context.Context, frame []byte, opaque int32) (resp *Command, retry bool, err error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	// Unblock the read when ctx is cancelled before its deadline.
	nc := cn.nc
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := nc.SetDeadline(deadline); err != nil {
		return nil, false, err
	}
	if _, err := nc.Write(frame); err != nil {
		if ctx.Err() != nil {
			return nil, false, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, false, fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
		}
		return nil, true, err
	}
	first := true
	for {
		resp, err := Decode(cn.br)
		if err != nil {
			if ctx.Err() != nil {
				return nil, false, fmt.Errorf("%w (%v)", ctx.Err(), err)
			}
			var ne net.Error
			if ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(deadline) {
				// The connection deadline is ctx's; its timer may not have
				// fired yet.
				return nil, false, fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
			}
			return nil, first && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)), err
		}
		first = false
		if resp.Flag&flagResponse != 0 && resp.Opaque == opaque {
			return resp, false, nil
		}
		// A server-initiated request or a stale response: skip it.
	}
}

// Close closes every connection, interrupting requests in flight; later
// Invokes fail with ErrClientClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for addr, cn := range c.conns {
		cn.ncMu.Lock()
		if cn.nc != nil {
			cn.nc.Close() // the request in flight fails and drops it
		}
		cn.ncMu.Unlock()
		delete(c.conns, addr)
	}
	return nil
}

// LooseJSON makes the JSON written by RocketMQ's Java servers (fastjson)
// acceptable to encoding/json: fastjson writes maps with integer keys
// unquoted, as in {"brokerAddrs":{0:"127.0.0.1:10911"}}. Bare numeric
// object keys are quoted; everything else, including string contents, is
// copied unchanged.
func LooseJSON(b []byte) []byte {
	out := make([]byte, 0, len(b)+16)
	inString, escaped := false, false
	last := byte(0) // last non-space byte outside strings
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if inString {
			out = append(out, ch)
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
				last = '"'
			}
			continue
		}
		if (last == '{' || last == ',') && (ch == '-' || (ch >= '0' && ch <= '9')) {
			j := i
			for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || (b[j] >= '0' && b[j] <= '9')) {
				j++
			}
			k := j
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r') {
				k++
			}
			if k < len(b) && b[k] == ':' {
				out = append(out, '"')
				out = append(out, b[i:j]...)
				out = append(out, '"')
				i = j - 1
				last = '"'
				continue
			}
		}
		out = append(out, ch)
		switch ch {
		case '"':
			inString = true
		case ' ', '\t', '\n', '\r':
		default:
			last = ch
		}
	}
	return out
}
