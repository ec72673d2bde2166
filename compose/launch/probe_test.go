package launch

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeServer accepts connections on loopback and runs serve on each until the
// test ends. It returns the address.
func fakeServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// amqpTableLen returns the long-uint length prefix of a table of fields.
func amqpTableLen(fields ...[]byte) []byte {
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	return binary.BigEndian.AppendUint32(nil, uint32(n))
}

func amqpField(name string, typ byte, value []byte) []byte {
	b := append([]byte{byte(len(name))}, name...)
	b = append(b, typ)
	return append(b, value...)
}

func longStr(s string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(s))), s...)
}

// connectionStart builds a Connection.Start frame like RabbitMQ's.
func connectionStart(props ...[]byte) []byte {
	var table []byte
	for _, p := range props {
		table = append(table, p...)
	}
	payload := []byte{0, 10, 0, 10, 0, 9}
	payload = append(payload, amqpTableLen(props...)...)
	payload = append(payload, table...)
	payload = append(payload, longStr("PLAIN AMQPLAIN")...)
	payload = append(payload, longStr("en_US")...)
	frame := []byte{1, 0, 0}
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(payload)))
	frame = append(frame, payload...)
	return append(frame, 0xCE)
}

func TestProbeAMQP(t *testing.T) {
	caps := amqpField("publisher_confirms", 't', []byte{1})
	capsTable := append(binary.BigEndian.AppendUint32(nil, uint32(len(caps))), caps...)
	good := connectionStart(
		amqpField("capabilities", 'F', capsTable),
		amqpField("product", 'S', longStr("RabbitMQ")),
		amqpField("version", 'S', longStr("3.10.8")),
		amqpField("number", 'l', make([]byte, 8)),
	)
	for _, tc := range []struct {
		name      string
		reply     []byte
		ok        bool
		version   string
		detailHas string
	}{
		{"rabbitmq", good, true, "3.10.8", "RabbitMQ"},
		{"protocol mismatch", []byte("AMQP\x00\x00\x09\x01"), false, "", "rejected protocol"},
		{"not a method frame", []byte{8, 0, 0, 0, 0, 0, 0, 0xCE}, false, "", "frame type 8"},
		{"huge frame", []byte{1, 0, 0, 0x7f, 0xff, 0xff, 0xff}, false, "", "out of range"},
		{"unknown field type", connectionStart(amqpField("x", '?', nil)), false, "", "unknown field type"},
		{"closes early", good[:10], false, "", "read AMQP frame"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, func(c net.Conn) {
				hdr := make([]byte, 8)
				if _, err := io.ReadFull(c, hdr); err != nil || string(hdr) != "AMQP\x00\x00\x09\x01" {
					return
				}
				c.Write(tc.reply)
			})
			h := ProbeAMQP(context.Background(), addr, 2*time.Second)
			if h.OK != tc.ok || h.Version != tc.version || !strings.Contains(h.Detail, tc.detailHas) {
				t.Errorf("ProbeAMQP = %+v, want ok=%v version=%q detail containing %q", h, tc.ok, tc.version, tc.detailHas)
			}
		})
	}
}

func TestProbeSTOMP(t *testing.T) {
	for _, tc := range []struct {
		name, reply string
		ok          bool
		version     string
	}{
		{"activemq", "\nCONNECTED\nserver:ActiveMQ/6.3.1\nversion:1.2\nheart-beat:0,0\n\n\x00", true, "6.3.1"},
		{"artemis", "CONNECTED\nversion:1.2\nsession:72b844ce\nserver:ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine\n\n\x00", true, "2.40.0"},
		{"no server header", "CONNECTED\nversion:1.1\n\n\x00", true, ""},
		{"error frame", "ERROR\nmessage:bad login\n\n\x00", false, ""},
		{"no NUL", "CONNECTED\n", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, func(c net.Conn) {
				buf := make([]byte, 256)
				n, _ := c.Read(buf)
				if !bytes.HasPrefix(buf[:n], []byte("CONNECT\n")) {
					return
				}
				io.WriteString(c, tc.reply)
			})
			h := ProbeSTOMP(context.Background(), addr, 2*time.Second)
			if h.OK != tc.ok || h.Version != tc.version {
				t.Errorf("ProbeSTOMP = %+v, want ok=%v version=%q", h, tc.ok, tc.version)
			}
		})
	}
}

func TestProbeSTOMPHungServerIsBounded(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) { time.Sleep(3 * time.Second) })
	begin := time.Now()
	h := ProbeSTOMP(context.Background(), addr, 200*time.Millisecond)
	if h.OK {
		t.Fatal("hung server reported healthy")
	}
	if time.Since(begin) > 2*time.Second {
		t.Errorf("probe of a hung server did not honour its deadline: %+v", h)
	}
}

func kafkaResponse(corr uint32, code int16, n int32) []byte {
	body := binary.BigEndian.AppendUint32(nil, corr)
	body = binary.BigEndian.AppendUint16(body, uint16(code))
	body = binary.BigEndian.AppendUint32(body, uint32(n))
	for i := int32(0); i < n; i++ {
		body = binary.BigEndian.AppendUint16(body, uint16(i))
		body = binary.BigEndian.AppendUint16(body, 0)
		body = binary.BigEndian.AppendUint16(body, 3)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func TestProbeKafka(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(corr uint32) []byte
		ok    bool
	}{
		{"good", func(c uint32) []byte { return kafkaResponse(c, 0, 3) }, true},
		{"error code", func(c uint32) []byte { return kafkaResponse(c, 35, 0) }, false},
		{"wrong correlation", func(c uint32) []byte { return kafkaResponse(c+1, 0, 3) }, false},
		{"lies about count", func(c uint32) []byte { b := kafkaResponse(c, 0, 1); binary.BigEndian.PutUint32(b[10:], 1000); return b }, false},
		{"huge size", func(uint32) []byte { return []byte{0x7f, 0, 0, 0} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, func(c net.Conn) {
				var size [4]byte
				if _, err := io.ReadFull(c, size[:]); err != nil {
					return
				}
				req := make([]byte, binary.BigEndian.Uint32(size[:]))
				if _, err := io.ReadFull(c, req); err != nil || binary.BigEndian.Uint16(req[0:2]) != 18 {
					return
				}
				c.Write(tc.reply(binary.BigEndian.Uint32(req[4:8])))
			})
			if h := ProbeKafka(context.Background(), addr, 2*time.Second); h.OK != tc.ok {
				t.Errorf("ProbeKafka = %+v, want ok=%v", h, tc.ok)
			}
		})
	}
}

// remotingServer answers every request with a JSON header carrying code and
// the given body, after checking the request's code.
func remotingServer(t *testing.T, wantCode, code int, body string) string {
	return fakeServer(t, func(c net.Conn) {
		var pre [8]byte
		if _, err := io.ReadFull(c, pre[:]); err != nil {
			return
		}
		rest := make([]byte, binary.BigEndian.Uint32(pre[0:4])-4)
		if _, err := io.ReadFull(c, rest); err != nil {
			return
		}
		var req struct{ Code int }
		if json.Unmarshal(rest[:binary.BigEndian.Uint32(pre[4:8])&0xFFFFFF], &req) != nil || req.Code != wantCode {
			return
		}
		hdr, _ := json.Marshal(map[string]any{"code": code, "opaque": 1, "flag": 1, "remark": "r"})
		out := binary.BigEndian.AppendUint32(nil, uint32(4+len(hdr)+len(body)))
		out = binary.BigEndian.AppendUint32(out, uint32(len(hdr)))
		out = append(out, hdr...)
		c.Write(append(out, body...))
	})
}

func TestProbeRocketMQ(t *testing.T) {
	cluster := `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"}}}}`
	if h := ProbeRocketMQNamesrv(context.Background(), remotingServer(t, 106, 0, cluster), "127.0.0.1:10911", 2*time.Second); !h.OK {
		t.Errorf("namesrv with broker registered: %+v", h)
	}
	if h := ProbeRocketMQNamesrv(context.Background(), remotingServer(t, 106, 0, `{"brokerAddrTable":{}}`), "127.0.0.1:10911", 2*time.Second); h.OK {
		t.Errorf("namesrv without the broker reported healthy: %+v", h)
	}
	if h := ProbeRocketMQNamesrv(context.Background(), remotingServer(t, 106, 0, `{}`), "", 2*time.Second); !h.OK {
		t.Errorf("namesrv without broker requirement: %+v", h)
	}
	if h := ProbeRocketMQNamesrv(context.Background(), remotingServer(t, 106, 17, ""), "", 2*time.Second); h.OK || !strings.Contains(h.Detail, "code 17") {
		t.Errorf("namesrv error code: %+v", h)
	}
	runtime := `{"table":{"brokerVersionDesc":"V5_3_3","msgPutTotalTodayNow":"0"}}`
	if h := ProbeRocketMQBroker(context.Background(), remotingServer(t, 28, 0, runtime), 2*time.Second); !h.OK || h.Version != "5.3.3" {
		t.Errorf("broker runtime info: %+v, want version 5.3.3", h)
	}
}

func TestProbeOpenWire(t *testing.T) {
	good := append([]byte{0, 0, 0, 0xf0, 1}, "ActiveMQ"...)
	if h := ProbeOpenWire(context.Background(), fakeServer(t, func(c net.Conn) { c.Write(good) }), 2*time.Second); !h.OK {
		t.Errorf("OpenWire: %+v", h)
	}
	if h := ProbeOpenWire(context.Background(), fakeServer(t, func(c net.Conn) { c.Write([]byte("HTTP/1.1 400 Bad\r\n")) }), 2*time.Second); h.OK {
		t.Errorf("HTTP reply reported as OpenWire: %+v", h)
	}
}

func TestProbeRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for name, h := range map[string]Handshake{
		"amqp":  ProbeAMQP(context.Background(), addr, time.Second),
		"stomp": ProbeSTOMP(context.Background(), addr, time.Second),
		"kafka": ProbeKafka(context.Background(), addr, time.Second),
		"rmq":   ProbeRocketMQBroker(context.Background(), addr, time.Second),
		"ow":    ProbeOpenWire(context.Background(), addr, time.Second),
	} {
		if h.OK || !strings.Contains(h.Detail, "connect") {
			t.Errorf("%s against a closed port: %+v", name, h)
		}
	}
}

// TestProbeJolokia: OK only when the agent answers the read of the KahaDB
// settings MBean with status 200; an agent without the MBean, an HTTP
// server that is not Jolokia and a silent one fail within the timeout.
func TestProbeJolokia(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string
		hang   bool
		ok     bool
		detail string
	}{
		{"registered", `{"status":200,"value":"ALWAYS"}`, false, true, "journalDiskSyncStrategy=ALWAYS"},
		{"not registered", `{"status":404,"error_type":"javax.management.InstanceNotFoundException"}`, false, false, "not registered yet"},
		{"not Jolokia", `<html>`, false, false, "not a Jolokia answer"},
		{"silent", ``, true, false, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			var got map[string]string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.hang {
					<-release
					return
				}
				_ = json.NewDecoder(r.Body).Decode(&got)
				_, _ = io.WriteString(w, tc.answer)
			}))
			defer srv.Close()
			defer close(release)
			h := ProbeJolokia(context.Background(), strings.TrimPrefix(srv.URL, "http://"), 300*time.Millisecond)
			if h.OK != tc.ok || !strings.Contains(h.Detail, tc.detail) {
				t.Fatalf("ProbeJolokia = %+v, want ok %v with %q", h, tc.ok, tc.detail)
			}
			if !tc.hang && (got["mbean"] != KahaDBSettingsMBean || got["type"] != "read") {
				t.Errorf("request %v, want a read of %s", got, KahaDBSettingsMBean)
			}
		})
	}
}
