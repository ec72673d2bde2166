package backlog

import (
	"testing"
	"time"
)

func TestFindStallsAndUnion(t *testing.T) {
	t0 := time.Unix(100, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	var sends []span
	for i := range 20 {
		sends = append(sends, span{ms(i * 10), ms(i*10 + 2)}) // 2 ms each
	}
	sends = append(sends, span{ms(300), ms(800)}, span{ms(700), ms(1500)}) // two overlapping stalls
	st := findStalls(sends, 10, 100*time.Millisecond)
	if st.median != 2*time.Millisecond || st.count != 2 || st.longest != 800*time.Millisecond {
		t.Fatalf("median %v count %d longest %v, want 2ms 2 800ms", st.median, st.count, st.longest)
	}
	u := union(st.spans, t0, ms(1200))
	if len(u) != 1 || total(u) != 900*time.Millisecond {
		t.Fatalf("union %v total %v, want one span of 900ms (clipped)", u, total(u))
	}
	sec := perSecond(u, t0, 3)
	if sec[0] != 700 || sec[1] != 200 || sec[2] != 0 {
		t.Fatalf("per second %v, want [700 200 0]", sec)
	}
	if s := findStalls(sends[:20], 10, 0); s.count != 0 {
		t.Fatalf("%d stalls among equal sends", s.count)
	}
	if s := findStalls(nil, 10, 0); s.count != 0 || s.median != 0 {
		t.Fatal("stalls without sends")
	}
}
