package activemq

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/mqbench/mqbench/adapters/driver"
)

func TestNewBrokerList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{DefaultAddr}},
		{"h:1", []string{"h:1"}},
		{"h:1, h:2 ,,", []string{"h:1", "h:2"}},
		{" , ", []string{DefaultAddr}},
	} {
		if got := newBrokerList(tc.in).addrs; strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("newBrokerList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestBrokerListFindsTheLiveMaster: of a list whose first broker refuses
// (a slave waiting for the lock) and whose second is a hung socket, the
// third, a STOMP broker, is the one connected to; the next connection
// starts with it. When none answers, the error names every address and
// New wraps driver.ErrUnreachable.
func TestBrokerListFindsTheLiveMaster(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	live := newFakeBroker(t, func(r *frame.Reader, w *frame.Writer, nc net.Conn) {
		connected(w, "0,0")
		_, _ = r.Read() // until the client goes
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	l := newBrokerList(strings.Join([]string{refused, hung.Addr().String(), live}, ","))
	c, err := l.dial(ctx, 300*time.Millisecond, driver.Config{}.Log())
	if err != nil {
		t.Fatalf("dial the list: %v", err)
	}
	c.Close()
	if got := l.addrs[l.live.Load()]; got != live {
		t.Fatalf("live broker %s, want %s", got, live)
	}
	begin := time.Now()
	c, err = l.dial(ctx, 300*time.Millisecond, driver.Config{}.Log())
	if err != nil {
		t.Fatalf("second dial: %v", err)
	}
	c.Close()
	if took := time.Since(begin); took > 250*time.Millisecond {
		t.Logf("second dial took %v: it should have started with the live broker", took)
	}

	_, err = New(ctx, driver.Config{Addr: refused + "," + hung.Addr().String(), OpTimeout: 300 * time.Millisecond})
	if !errors.Is(err, driver.ErrUnreachable) || !strings.Contains(err.Error(), refused) || !strings.Contains(err.Error(), hung.Addr().String()) {
		t.Fatalf("New on a list where nothing answers: %v; want ErrUnreachable naming both addresses", err)
	}
}
