package stompclient

import (
	"errors"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
)

type closer struct{ n int }

func (c *closer) Close() error { c.n++; return nil }

// TestClients: CloseAll closes what is tracked and not untracked, once;
// tracking after it fails with driver.ErrClosed.
func TestClients(t *testing.T) {
	var cs Clients
	cs.Broker = "x"
	a, b := &closer{}, &closer{}
	if err := cs.Track(a); err != nil {
		t.Fatal(err)
	}
	if err := cs.Track(b); err != nil {
		t.Fatal(err)
	}
	cs.Untrack(b)
	if cs.Closed() {
		t.Fatal("closed before CloseAll")
	}
	if err := cs.CloseAll(); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseAll(); err != nil {
		t.Fatal(err)
	}
	if a.n != 1 || b.n != 0 || !cs.Closed() {
		t.Fatalf("closes: tracked %d, untracked %d; closed %v", a.n, b.n, cs.Closed())
	}
	if err := cs.Track(&closer{}); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("Track after CloseAll: %v, want driver.ErrClosed", err)
	}
}
