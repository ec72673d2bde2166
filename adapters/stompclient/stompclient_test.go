package stompclient

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

func TestKeyEncoding(t *testing.T) {
	tests := []struct {
		name   string
		key    []byte
		header string
	}{
		{"ascii", []byte("producer-7"), HdrKey},
		{"utf8", []byte("clé:\n\\x"), HdrKey},
		{"binary id", []byte{0, 0, 0, 7}, HdrKeyHex},
		{"invalid utf8", []byte{0xff, 0xfe}, HdrKeyHex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, v := EncodeKey(tt.key)
			if h != tt.header {
				t.Fatalf("header %q, want %q", h, tt.header)
			}
			got, err := DecodeKey(func(name string) (string, bool) {
				if name == h {
					return v, true
				}
				return "", false
			})
			if err != nil || !bytes.Equal(got, tt.key) {
				t.Fatalf("decode = %q, %v; want %q", got, err, tt.key)
			}
		})
	}
	if _, err := DecodeKey(func(name string) (string, bool) { return "zz", name == HdrKeyHex }); !errors.Is(err, ErrBadKey) {
		t.Fatalf("bad hex: %v", err)
	}
	if k, err := DecodeKey(func(string) (string, bool) { return "", false }); k != nil || err != nil {
		t.Fatalf("no key: %q %v", k, err)
	}
}

func TestHeartBeats(t *testing.T) {
	tests := []struct{ op, want time.Duration }{
		{10 * time.Second, 2 * time.Second},
		{time.Second, 250 * time.Millisecond},
		{100 * time.Millisecond, 250 * time.Millisecond},
		{4 * time.Second, time.Second},
	}
	for _, tt := range tests {
		if got := HeartBeats(tt.op); got != tt.want {
			t.Errorf("HeartBeats(%v) = %v, want %v", tt.op, got, tt.want)
		}
	}
}

// countingWriter counts the writes that reach it, as a socket counts
// syscalls.
type countingWriter struct{ writes, bytes int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	c.bytes += len(p)
	return len(p), nil
}

// TestFramesLeaveOnlyOnFlush: frames written through bufferOnly stay in the
// connection's buffer until it is flushed, so a batch of SENDs is one write
// to the socket, not one per frame (go-stomp's frame.Writer flushes its
// own buffer after every frame).
func TestFramesLeaveOnlyOnFlush(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames int
	}{{"one", 1}, {"a batch", 100}} {
		t.Run(tc.name, func(t *testing.T) {
			sock := &countingWriter{}
			bw := bufio.NewWriterSize(sock, 64<<10)
			fw := frame.NewWriter(bufferOnly{bw})
			for i := range tc.frames {
				f := frame.New(frame.SEND, frame.Destination, "/queue/x", frame.ContentLength, "3")
				f.Body = []byte{byte(i), 1, 2}
				if err := fw.Write(f); err != nil {
					t.Fatal(err)
				}
			}
			if sock.writes != 0 {
				t.Fatalf("%d writes reached the socket before the flush, want 0", sock.writes)
			}
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
			if sock.writes != 1 || sock.bytes == 0 {
				t.Fatalf("flush made %d writes (%d bytes), want 1", sock.writes, sock.bytes)
			}
		})
	}
}
