// Command plainloop is the baseline of the side-by-side comparison
// (scenarios/capacity/sidebyside.sh): a plain send/receive loop written
// directly against one broker's client library (amqp091-go, go-stomp v3,
// rocketmq-client-go v2, kafka-go), with the settings mqbench's adapter uses, and
// none of mqbench's pipeline (no driver interface, no envelope, no probe).
// If mqbench's figure is close to this one, mqbench is not what limits it.
//
// Usage:
//
//	plainloop --broker rabbitmq|activemq|rocketmq|kafka [--mode publish|e2e]
//	          [--size 1024] [--duration 10s] [--warmup 2s] [--rate N]
//	          [--closed-loop] ...
//
// It prints one JSON line on stdout (see Result). Exit codes: 0 ok, 1 the
// run failed (broker error), 2 bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// Brokers the plain loop drives, with their default addresses.
func defaultAddrs() map[string]string {
	return map[string]string{
		"rabbitmq": "127.0.0.1:5672",
		"activemq": "127.0.0.1:61613",
		"rocketmq": "127.0.0.1:9876",
		"kafka":    "127.0.0.1:9092",
	}
}

// Modes: publish sends with no consumer (the confirmed rate is the
// figure); e2e sends and receives (end-to-end latency and received rate).
const (
	modePublish = "publish"
	modeE2E     = "e2e"
)

// minSize is the smallest body: 8 bytes of intended send time plus 8 of
// sequence.
const minSize = 16

// config is what the flags say.
type config struct {
	Broker    string
	Mode      string
	Addr      string
	RocketMQ  string // RocketMQ broker address (for topic creation)
	Size      int
	Duration  time.Duration
	Warmup    time.Duration
	Drain     time.Duration
	Rate      float64
	Batch     int
	Producers int
	Consumers int
	Idle      int // publish mode: consumers subscribed that never take a message
	Prefetch  int
	Queues    int
	OpTimeout time.Duration
	// ClosedLoop (e2e) keeps one message in flight: the next send once the
	// last is both confirmed and received, Kafka's EndToEndLatency loop.
	ClosedLoop bool
	// FetchAfterAck (Kafka, closed loop) consumes as EndToEndLatency
	// does: a fetch with zero wait only after the send was acknowledged,
	// instead of a fetch waiting at the broker for the next record.
	FetchAfterAck bool
	// KeyHeaders (ActiveMQ, RocketMQ) sends each producer's key as the
	// adapter does: ActiveMQ's JMSXGroupID and mqbench-key-hex headers,
	// RocketMQ's mqbk property and the queue the key hashes to.
	KeyHeaders bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, runs the loop and prints its Result on stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parse(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "plainloop: %v\n", err)
		return exitUsage
	}
	res, err := measure(ctx, c)
	if err != nil {
		fmt.Fprintf(stderr, "plainloop: %s: %v\n", c.Broker, err)
		return exitFail
	}
	b, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintf(stderr, "plainloop: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(stdout, string(b))
	return exitOK
}

// parse reads and validates the flags. Help (-h, --help) prints the usage
// on help and returns flag.ErrHelp; any other problem is returned as one
// line, with nothing printed.
func parse(args []string, help io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("plainloop", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Broker, "broker", "", "broker: rabbitmq, activemq, rocketmq or kafka (required)")
	fs.StringVar(&c.Mode, "mode", modePublish, "publish (send only, confirmed rate) or e2e (send and receive, end-to-end latency)")
	fs.StringVar(&c.Addr, "addr", "", "broker address host:port (default: the broker's standard local port; RocketMQ: the name server)")
	fs.StringVar(&c.RocketMQ, "rocketmq-broker", "127.0.0.1:10911", "RocketMQ broker address host:port, where the topic is created")
	fs.IntVar(&c.Size, "size", 1024, "message size in bytes (16..16777216)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured window (> 0, at most 1h)")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "warm-up before the measured window (0..1h)")
	fs.DurationVar(&c.Drain, "drain", 10*time.Second, "e2e: how long to wait for the last messages after the window (> 0, at most 1h)")
	fs.Float64Var(&c.Rate, "rate", 0, "messages per second over all producers (0 = as fast as the broker confirms)")
	fs.IntVar(&c.Batch, "batch", 100, "most messages per send round (one confirm wait, one transaction, one batch send)")
	fs.IntVar(&c.Producers, "producers", 2, "producer connections (1..256)")
	fs.IntVar(&c.Consumers, "consumers", 2, "e2e: consumer connections (1..256)")
	fs.IntVar(&c.Idle, "idle-consumers", 0, "publish: consumers subscribed for the whole run that take nothing beyond their prefetch, as capacity's publish-only phase has (0..256)")
	fs.IntVar(&c.Prefetch, "prefetch", 256, "consumer prefetch (RabbitMQ basic.qos, ActiveMQ activemq.prefetchSize; RocketMQ pull batch, at most 32)")
	fs.IntVar(&c.Queues, "queues", 2, "RocketMQ queues or Kafka partitions of the topic (1..64)")
	fs.BoolVar(&c.KeyHeaders, "key-headers", false, "activemq, rocketmq: every message carries its producer's key as mqbench's adapter sends it (ActiveMQ: the JMSXGroupID and mqbench-key-hex headers; RocketMQ: the mqbk property and the key's queue)")
	fs.BoolVar(&c.ClosedLoop, "closed-loop", false, "e2e: one message in flight, the next sent once the last is confirmed and received (needs --rate 0, --producers 1, --batch 1)")
	fs.BoolVar(&c.FetchAfterAck, "fetch-after-ack", false, "kafka, with --closed-loop: consume as Kafka's EndToEndLatency does, fetching (zero wait) only once the send was acknowledged (needs --queues 1, --consumers 1)")
	fs.DurationVar(&c.OpTimeout, "op-timeout", 10*time.Second, "deadline of every network operation (> 0, at most 10m)")
	usage := func() {
		fs.SetOutput(help)
		fmt.Fprintln(help, "usage: plainloop --broker rabbitmq|activemq|rocketmq|kafka [--mode publish|e2e] [flags]\n\n"+
			"A plain send/receive loop on the broker's own client library, with the settings of\n"+
			"mqbench's adapter, for comparison with mqbench. Prints one JSON line:\n"+
			`{"broker","mode","size","sent","confirmed","received","msgs_per_s","recv_per_s","e2e_p50_ms","e2e_p99_ms","e2e_mean_ms",...}`+"\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

// validate checks every field and fills the default address.
func (c *config) validate() error {
	addrs := defaultAddrs()
	def, ok := addrs[c.Broker]
	switch {
	case c.Broker == "":
		return errors.New("--broker is required (rabbitmq, activemq, rocketmq or kafka)")
	case !ok:
		return fmt.Errorf("--broker %q: must be rabbitmq, activemq, rocketmq or kafka", c.Broker)
	case c.Mode != modePublish && c.Mode != modeE2E:
		return fmt.Errorf("--mode %q: must be publish or e2e", c.Mode)
	case c.Size < minSize || c.Size > 16<<20:
		return fmt.Errorf("--size %d: must be between %d and 16777216", c.Size, minSize)
	case c.Duration <= 0 || c.Duration > time.Hour:
		return fmt.Errorf("--duration %s: must be > 0 and at most 1h", c.Duration)
	case c.Warmup < 0 || c.Warmup > time.Hour:
		return fmt.Errorf("--warmup %s: must be between 0 and 1h", c.Warmup)
	case c.Drain <= 0 || c.Drain > time.Hour:
		return fmt.Errorf("--drain %s: must be > 0 and at most 1h", c.Drain)
	case !(c.Rate >= 0 && c.Rate <= 1e7): // also refuses NaN
		return fmt.Errorf("--rate %v: must be between 0 and 10000000", c.Rate)
	case c.Batch < 1 || c.Batch > 10000:
		return fmt.Errorf("--batch %d: must be between 1 and 10000", c.Batch)
	case c.Producers < 1 || c.Producers > 256:
		return fmt.Errorf("--producers %d: must be between 1 and 256", c.Producers)
	case c.Consumers < 1 || c.Consumers > 256:
		return fmt.Errorf("--consumers %d: must be between 1 and 256", c.Consumers)
	case c.Idle < 0 || c.Idle > 256:
		return fmt.Errorf("--idle-consumers %d: must be between 0 and 256", c.Idle)
	case c.Idle > 0 && c.Mode != modePublish:
		return errors.New("--idle-consumers is for --mode publish")
	case c.Prefetch < 1 || c.Prefetch > 65535:
		return fmt.Errorf("--prefetch %d: must be between 1 and 65535", c.Prefetch)
	case c.Queues < 1 || c.Queues > 64:
		return fmt.Errorf("--queues %d: must be between 1 and 64", c.Queues)
	case c.ClosedLoop && (c.Mode != modeE2E || c.Rate != 0 || c.Producers != 1 || c.Batch != 1):
		return errors.New("--closed-loop needs --mode e2e, --rate 0, --producers 1 and --batch 1")
	case c.FetchAfterAck && (c.Broker != "kafka" || !c.ClosedLoop || c.Queues != 1 || c.Consumers != 1):
		return errors.New("--fetch-after-ack needs --broker kafka, --closed-loop, --queues 1 and --consumers 1")
	case c.KeyHeaders && c.Broker != "activemq" && c.Broker != "rocketmq":
		return errors.New("--key-headers is for --broker activemq or rocketmq")
	case c.OpTimeout <= 0 || c.OpTimeout > 10*time.Minute:
		return fmt.Errorf("--op-timeout %s: must be > 0 and at most 10m", c.OpTimeout)
	}
	if c.Addr == "" {
		c.Addr = def
	}
	if err := checkHostPort("--addr", c.Addr); err != nil {
		return err
	}
	return checkHostPort("--rocketmq-broker", c.RocketMQ)
}

// checkHostPort accepts host:port with a port in 1..65535.
func checkHostPort(flagName, s string) error {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return fmt.Errorf("%s %q: must be host:port", flagName, s)
	}
	var port int
	if _, err := fmt.Sscanf(s[i+1:], "%d", &port); err != nil || fmt.Sprint(port) != s[i+1:] || port < 1 || port > 65535 {
		return fmt.Errorf("%s %q: port must be 1-65535", flagName, s)
	}
	return nil
}
