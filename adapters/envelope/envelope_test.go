package envelope

import (
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		size int
		h    Header
	}{
		{"zero", Size, Header{}},
		{"typical", 1024, Header{RunID: 42, Producer: 3, Seq: 99, SentNs: 1700000000000000000, IntendNs: 1699999999999999000}},
		{"max values", 64, Header{RunID: ^uint64(0), Producer: ^uint32(0), Seq: ^uint64(0), SentNs: -1, IntendNs: -2}},
		{"short size grows to header", 1, Header{Seq: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.size, tt.h)
			if want := max(tt.size, Size); len(b) != want {
				t.Fatalf("len = %d, want %d", len(b), want)
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.h {
				t.Fatalf("got %+v, want %+v", got, tt.h)
			}
		})
	}
}

func TestSetSent(t *testing.T) {
	b := New(100, Header{RunID: 1, Seq: 5, SentNs: 10, IntendNs: 9})
	SetSent(b, 77)
	h, err := Parse(b)
	if err != nil || h.SentNs != 77 || h.Seq != 5 || h.IntendNs != 9 {
		t.Fatalf("after SetSent: %+v %v", h, err)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"nil", nil},
		{"short", []byte("MQB1")},
		{"bad magic", make([]byte, Size)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.body); !errors.Is(err, ErrNotEnvelope) {
				t.Fatalf("err = %v, want ErrNotEnvelope", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(New(Size, Header{RunID: 1, Producer: 2, Seq: 3}))
	f.Add([]byte("MQB1short"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			return
		}
		// A body that parses re-encodes to the same header bytes.
		out := make([]byte, Size)
		Put(out, h)
		if string(out) != string(b[:Size]) {
			t.Fatalf("re-encode differs: %x vs %x", out, b[:Size])
		}
	})
}
