// Package brokers is the explicit table of the real broker adapters: name,
// standard local address, constructor and static description. The CLI and
// the integration tests read it; nothing registers itself.
//
// The native launcher has its own table (compose/launch.Specs), which does
// not import the adapters; the two are joined by name, and a test in
// cmd/mqbench fails when their names or default addresses disagree.
package brokers

import (
	"os"
	"strings"

	"github.com/mqbench/mqbench/adapters/activemq"
	"github.com/mqbench/mqbench/adapters/artemis"
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/kafka"
	"github.com/mqbench/mqbench/adapters/rabbitmq"
	"github.com/mqbench/mqbench/adapters/rocketmq"
)

// Broker is one real broker adapter.
type Broker struct {
	// Name is the adapter name, as `mqbench run --broker` knows it.
	Name string
	// Launch is the broker it runs on, as `mqbench up` (compose/launch)
	// knows it: Name itself, or for a variant of a broker's adapter (such
	// as rabbitmq-stream) the broker it is a variant of.
	Launch string
	// DefaultAddr is the standard local address the adapter dials (the
	// adapter package's DefaultAddr).
	DefaultAddr string
	// New connects to the broker (see driver.Constructor).
	New driver.Constructor
	// Describe returns the static description: client, protocol and
	// declared capabilities, without contacting the broker.
	Describe func() driver.Info
}

// Real returns the real broker adapters in name order (a new slice each
// call): one per broker, plus rabbitmq-stream, RabbitMQ's streams through
// the rabbitmq adapter, which runs on the rabbitmq broker.
func Real() []Broker {
	return []Broker{
		{Name: "activemq", Launch: "activemq", DefaultAddr: activemq.DefaultAddr, New: activemq.New, Describe: activemq.Describe},
		{Name: "artemis", Launch: "artemis", DefaultAddr: artemis.DefaultAddr, New: artemis.New, Describe: artemis.Describe},
		{Name: "kafka", Launch: "kafka", DefaultAddr: kafka.DefaultAddr, New: kafka.New, Describe: kafka.Describe},
		{Name: "rabbitmq", Launch: "rabbitmq", DefaultAddr: rabbitmq.DefaultAddr, New: rabbitmq.New, Describe: rabbitmq.Describe},
		{Name: rabbitmq.StreamName, Launch: "rabbitmq", DefaultAddr: rabbitmq.DefaultAddr, New: rabbitmq.NewStream, Describe: rabbitmq.DescribeStream},
		{Name: "rocketmq", Launch: "rocketmq", DefaultAddr: rocketmq.DefaultAddr, New: rocketmq.New, Describe: rocketmq.Describe},
	}
}

// Find returns the broker named name.
func Find(name string) (Broker, bool) {
	for _, b := range Real() {
		if b.Name == name {
			return b, true
		}
	}
	return Broker{}, false
}

// Variant reports whether b is a variant of another broker's adapter (it
// runs on a broker of another name).
func (b Broker) Variant() bool { return b.Launch != b.Name }

// Addr returns the address tests should dial: $MQBENCH_<LAUNCH>_ADDR (the
// broker it runs on) when set, else DefaultAddr.
func (b Broker) Addr() string {
	if a := os.Getenv("MQBENCH_" + strings.ToUpper(b.Launch) + "_ADDR"); a != "" {
		return a
	}
	return b.DefaultAddr
}
