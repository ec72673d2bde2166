package remoting

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  Command
	}{
		{"empty", Command{Code: 106, Language: "GO", Opaque: 1}},
		{"ext and body", Command{Code: 17, Language: "GO", Version: 479, Opaque: 7, ExtFields: map[string]string{"topic": "t"}, Body: []byte("hello")}},
		{"response", Command{Code: 22, Flag: flagResponse, Remark: "not found", Opaque: 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := Encode(&tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(bytes.NewReader(frame))
			if err != nil {
				t.Fatal(err)
			}
			if got.Code != tc.cmd.Code || got.Opaque != tc.cmd.Opaque || got.Flag != tc.cmd.Flag ||
				got.Remark != tc.cmd.Remark || got.Version != tc.cmd.Version || !bytes.Equal(got.Body, tc.cmd.Body) ||
				len(got.ExtFields) != len(tc.cmd.ExtFields) {
				t.Errorf("decoded %+v, want %+v", got, tc.cmd)
			}
		})
	}
}

func frameOf(total uint32, headerWord uint32, rest []byte) []byte {
	b := make([]byte, 8, 8+len(rest))
	binary.BigEndian.PutUint32(b, total)
	binary.BigEndian.PutUint32(b[4:], headerWord)
	return append(b, rest...)
}

func TestDecodeRejectsBadFrames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"short length", []byte{0, 0}},
		{"length below minimum", frameOf(2, 0, nil)},
		{"length above maximum", frameOf(maxFrame+1, 0, nil)},
		{"truncated", frameOf(100, 2, []byte("{}"))},
		{"header longer than frame", frameOf(6, 50, []byte("{}"))},
		{"binary serialisation", frameOf(6, 1<<24|2, []byte("{}"))},
		{"header not json", frameOf(6, 2, []byte("{x"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := Decode(bytes.NewReader(tc.frame)); err == nil {
				t.Errorf("Decode accepted %x as %+v", tc.frame, c)
			}
		})
	}
}

func TestLooseJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`{0:"127.0.0.1:10911"}`, `{"0":"127.0.0.1:10911"}`},
		{`{"brokerAddrs":{0:"x",1:"y"}}`, `{"brokerAddrs":{"0":"x","1":"y"}}`},
		{`{ 12 : "a" , -3:"b"}`, `{ "12" : "a" , "-3":"b"}`},
		{`[1,2,{3:4}]`, `[1,2,{"3":4}]`},
		{`{"s":"{0:\"x\", 1:2}"}`, `{"s":"{0:\"x\", 1:2}"}`},
		{`{"a":[0,1],"b":{2:[3]}}`, `{"a":[0,1],"b":{"2":[3]}}`},
	} {
		got := string(LooseJSON([]byte(tc.in)))
		if got != tc.want {
			t.Errorf("LooseJSON(%s) = %s, want %s", tc.in, got, tc.want)
		}
		var v any
		if err := json.Unmarshal([]byte(got), &v); err != nil {
			t.Errorf("LooseJSON(%s) is not JSON: %v", tc.in, err)
		}
	}
}

// server answers every request with the handler's response, from one
// goroutine per connection.
func server(t *testing.T, handle func(n int, req *Command) (*Command, bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var count atomic.Int32
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				for {
					req, err := Decode(nc)
					if err != nil {
						return
					}
					resp, keep := handle(int(count.Add(1)), req)
					if resp != nil {
						resp.Flag |= flagResponse
						resp.Opaque = req.Opaque
						frame, _ := Encode(resp)
						nc.Write(frame)
					}
					if !keep {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestInvoke(t *testing.T) {
	addr := server(t, func(_ int, req *Command) (*Command, bool) {
		if req.Code == 1 {
			return &Command{Code: QueryNotFound, Remark: "none"}, true
		}
		return &Command{Code: Success, ExtFields: map[string]string{"echo": req.ExtFields["x"]}, Body: req.Body}, true
	})
	c := NewClient()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, addr, 2, map[string]string{"x": "y"}, []byte("b"))
	if err != nil || resp.ExtFields["echo"] != "y" || string(resp.Body) != "b" {
		t.Fatalf("Invoke = %+v, %v", resp, err)
	}
	if _, err := c.Invoke(ctx, addr, 1, nil, nil); !IsCode(err, QueryNotFound) {
		t.Errorf("error code: %v", err)
	}
}

// A server that accepts and never answers: Invoke returns at the deadline.
func TestInvokeHungServerBounded(t *testing.T) {
	addr := server(t, func(int, *Command) (*Command, bool) { return nil, true })
	c := NewClient()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, addr, 2, nil, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want deadline exceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Invoke did not return after its deadline")
	}
}

// Close interrupts a request in flight and fails later ones.
func TestCloseInterrupts(t *testing.T) {
	addr := server(t, func(int, *Command) (*Command, bool) { return nil, true })
	c := NewClient()
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(context.Background(), addr, 2, nil, nil)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Invoke in flight succeeded after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not interrupt Invoke")
	}
	if _, err := c.Invoke(context.Background(), addr, 2, nil, nil); !errors.Is(err, ErrClientClosed) {
		t.Errorf("Invoke after Close = %v", err)
	}
}

// A server that closes the connection after each answer (as a broker does
// with idle connections): the next request on the dead connection is
// retried once on a new one.
func TestInvokeRetriesDeadReusedConnection(t *testing.T) {
	addr := server(t, func(int, *Command) (*Command, bool) { return &Command{Code: Success}, false })
	c := NewClient()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 3 {
		if _, err := c.Invoke(ctx, addr, 2, nil, nil); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond) // let the server's close arrive
	}
}
