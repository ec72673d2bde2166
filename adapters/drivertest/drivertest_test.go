package drivertest

import (
	"net"
	"testing"
)

func TestBodyParse(t *testing.T) {
	for _, tc := range []struct {
		id string
		i  int
	}{{"abc", 0}, {"abc", 12345}, {"x-y", 7}} {
		b := body(tc.id, tc.i)
		if len(b) < 64 {
			t.Errorf("body %q: %d bytes, want >= 64", b, len(b))
		}
		if i, ok := parse(tc.id, b); !ok || i != tc.i {
			t.Errorf("parse(body(%q, %d)) = %d, %v", tc.id, tc.i, i, ok)
		}
		if _, ok := parse(tc.id+"z", b); ok {
			t.Errorf("body of run %q parsed as run %qz", tc.id, tc.id)
		}
	}
	for _, bad := range [][]byte{nil, []byte("abc#"), []byte("abc#1#"), []byte("abc#x#"), append(body("abc", 1), 0)} {
		if _, ok := parse("abc", bad); ok {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

func TestRanges(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{nil, "[]"},
		{[]int{3}, "[3]"},
		{[]int{0, 1, 2, 4, 6, 7}, "[0-2 4 6-7]"},
		{[]int{5, 4, 3}, "[5 4 3]"},
	} {
		if got := ranges(tc.in); got != tc.want {
			t.Errorf("ranges(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRequireBrokerSkipsWhenAbsent(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("MQBENCH_REQUIRE_BROKERS", "")
	var skipped bool
	t.Run("absent", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		RequireBroker(t, "nothing", addr)
	})
	if !skipped {
		t.Error("RequireBroker did not skip for an absent broker")
	}
}

func TestRequireBrokerPassesWhenPresent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	RequireBroker(t, "listener", l.Addr().String())
}
