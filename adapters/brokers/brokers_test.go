package brokers

import (
	"slices"
	"strings"
	"testing"
)

// TestTable: names are unique, sorted and lower case, every row is complete,
// and each adapter describes itself under its table name.
func TestTable(t *testing.T) {
	var names []string
	for _, b := range Real() {
		names = append(names, b.Name)
		if b.Name == "" || b.Name != strings.ToLower(b.Name) {
			t.Errorf("name %q: want a non-empty lower-case name", b.Name)
		}
		if b.Launch == "" || b.DefaultAddr == "" || b.New == nil || b.Describe == nil {
			t.Errorf("%s: incomplete row %+v", b.Name, b)
			continue
		}
		if got := b.Describe().Name; got != b.Name {
			t.Errorf("%s: Describe().Name = %q, want the table name", b.Name, got)
		}
		if got := b.Describe().Title; got == "" || got == b.Name {
			t.Errorf("%s: Describe().Title = %q, want a product name for people", b.Name, got)
		}
		if b.Launch != b.Name && !strings.Contains(b.Describe().Title, "(") {
			t.Errorf("%s: a variant of %s has Title %q, want it to name the variant, e.g. \"RabbitMQ (streams)\"", b.Name, b.Launch, b.Describe().Title)
		}
		if f, ok := Find(b.Name); !ok || f.DefaultAddr != b.DefaultAddr {
			t.Errorf("Find(%q) = %+v, %v", b.Name, f, ok)
		}
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("names %v: want sorted and unique", names)
	}
	for _, b := range Real() {
		if !b.Variant() {
			continue
		}
		base, ok := Find(b.Launch)
		if !ok || base.Variant() || base.DefaultAddr != b.DefaultAddr {
			t.Errorf("%s runs on %q: want a broker of the table, not itself a variant, with the same address (got %+v, %v)", b.Name, b.Launch, base, ok)
		}
	}
	if _, ok := Find("pulsar"); ok {
		t.Error("Find found an unknown broker")
	}
}

func TestAddrOverride(t *testing.T) {
	v, _ := Find("rabbitmq-stream")
	t.Setenv("MQBENCH_RABBITMQ_ADDR", "127.0.0.1:5673")
	if v.Addr() != "127.0.0.1:5673" {
		t.Errorf("variant Addr() = %q, want its broker's MQBENCH_RABBITMQ_ADDR override", v.Addr())
	}
	b, _ := Find("kafka")
	t.Setenv("MQBENCH_KAFKA_ADDR", "")
	if b.Addr() != b.DefaultAddr {
		t.Errorf("Addr() = %q without override, want %q", b.Addr(), b.DefaultAddr)
	}
	t.Setenv("MQBENCH_KAFKA_ADDR", "127.0.0.1:19092")
	if b.Addr() != "127.0.0.1:19092" {
		t.Errorf("Addr() = %q, want the MQBENCH_KAFKA_ADDR override", b.Addr())
	}
}
