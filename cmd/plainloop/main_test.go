package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // substring; "" = valid
		check   func(t *testing.T, c config)
	}{
		{name: "defaults", args: []string{"--broker", "rabbitmq"}, check: func(t *testing.T, c config) {
			if c.Addr != "127.0.0.1:5672" || c.Mode != modePublish || c.Size != 1024 || c.Batch != 100 || c.Producers != 2 || c.Rate != 0 || c.Duration != 10*time.Second {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "activemq default addr", args: []string{"--broker", "activemq"}, check: func(t *testing.T, c config) {
			if c.Addr != "127.0.0.1:61613" {
				t.Errorf("addr %q", c.Addr)
			}
		}},
		{name: "rocketmq e2e with everything set", args: []string{"--broker", "rocketmq", "--mode", "e2e", "--addr", "localhost:19876", "--size", "16", "--duration", "3s", "--warmup", "0s", "--rate", "500", "--batch", "1", "--producers", "1", "--consumers", "3", "--prefetch", "32", "--queues", "4", "--op-timeout", "5s"}, check: func(t *testing.T, c config) {
			if c.Addr != "localhost:19876" || c.Mode != modeE2E || c.Size != 16 || c.Rate != 500 || c.Consumers != 3 || c.Queues != 4 || c.OpTimeout != 5*time.Second || c.Warmup != 0 {
				t.Errorf("parsed: %+v", c)
			}
		}},
		{name: "no broker", args: nil, wantErr: "--broker is required"},
		{name: "kafka default addr", args: []string{"--broker", "kafka", "--mode", "e2e", "--closed-loop", "--rate", "0", "--producers", "1", "--batch", "1"}, check: func(t *testing.T, c config) {
			if c.Addr != "127.0.0.1:9092" || !c.ClosedLoop {
				t.Errorf("parsed: %+v", c)
			}
		}},
		{name: "unknown broker", args: []string{"--broker", "pulsar"}, wantErr: `--broker "pulsar": must be rabbitmq, activemq, rocketmq or kafka`},
		{name: "activemq key headers", args: []string{"--broker", "activemq", "--key-headers"}, check: func(t *testing.T, c config) {
			if !c.KeyHeaders {
				t.Errorf("parsed: %+v", c)
			}
		}},
		{name: "key headers on rabbitmq", args: []string{"--broker", "rabbitmq", "--key-headers"}, wantErr: "--key-headers is for --broker activemq or rocketmq"},
		{name: "closed loop in publish mode", args: []string{"--broker", "kafka", "--closed-loop", "--producers", "1", "--batch", "1"}, wantErr: "--closed-loop needs --mode e2e"},
		{name: "closed loop with a rate", args: []string{"--broker", "kafka", "--mode", "e2e", "--closed-loop", "--rate", "100", "--producers", "1", "--batch", "1"}, wantErr: "--closed-loop needs"},
		{name: "closed loop with two producers", args: []string{"--broker", "kafka", "--mode", "e2e", "--closed-loop", "--batch", "1"}, wantErr: "--closed-loop needs"},
		{name: "closed loop with batches", args: []string{"--broker", "kafka", "--mode", "e2e", "--closed-loop", "--producers", "1"}, wantErr: "--closed-loop needs"},
		{name: "kafka fetch after ack", args: []string{"--broker", "kafka", "--mode", "e2e", "--closed-loop", "--rate", "0", "--producers", "1", "--batch", "1", "--consumers", "1", "--queues", "1", "--fetch-after-ack"}, check: func(t *testing.T, c config) {
			if !c.FetchAfterAck || !c.ClosedLoop {
				t.Errorf("parsed: %+v", c)
			}
		}},
		{name: "fetch after ack without closed loop", args: []string{"--broker", "kafka", "--mode", "e2e", "--consumers", "1", "--queues", "1", "--fetch-after-ack"}, wantErr: "--fetch-after-ack needs"},
		{name: "fetch after ack on two partitions", args: []string{"--broker", "kafka", "--mode", "e2e", "--closed-loop", "--rate", "0", "--producers", "1", "--batch", "1", "--consumers", "1", "--fetch-after-ack"}, wantErr: "--fetch-after-ack needs"},
		{name: "fetch after ack on rabbitmq", args: []string{"--broker", "rabbitmq", "--mode", "e2e", "--closed-loop", "--rate", "0", "--producers", "1", "--batch", "1", "--consumers", "1", "--queues", "1", "--fetch-after-ack"}, wantErr: "--fetch-after-ack needs"},
		{name: "unknown mode", args: []string{"--broker", "rabbitmq", "--mode", "both"}, wantErr: `--mode "both"`},
		{name: "size too small", args: []string{"--broker", "rabbitmq", "--size", "15"}, wantErr: "--size 15"},
		{name: "size too large", args: []string{"--broker", "rabbitmq", "--size", "16777217"}, wantErr: "--size 16777217"},
		{name: "zero duration", args: []string{"--broker", "rabbitmq", "--duration", "0s"}, wantErr: "--duration 0s"},
		{name: "duration over 1h", args: []string{"--broker", "rabbitmq", "--duration", "2h"}, wantErr: "--duration 2h0m0s"},
		{name: "negative warmup", args: []string{"--broker", "rabbitmq", "--warmup", "-1s"}, wantErr: "--warmup -1s"},
		{name: "zero drain", args: []string{"--broker", "rabbitmq", "--drain", "0s"}, wantErr: "--drain 0s"},
		{name: "negative rate", args: []string{"--broker", "rabbitmq", "--rate", "-1"}, wantErr: "--rate -1"},
		{name: "NaN rate", args: []string{"--broker", "rabbitmq", "--rate", "NaN"}, wantErr: "--rate NaN"},
		{name: "infinite rate", args: []string{"--broker", "rabbitmq", "--rate", "+Inf"}, wantErr: "--rate +Inf"},
		{name: "zero batch", args: []string{"--broker", "rabbitmq", "--batch", "0"}, wantErr: "--batch 0"},
		{name: "too many producers", args: []string{"--broker", "rabbitmq", "--producers", "257"}, wantErr: "--producers 257"},
		{name: "zero consumers", args: []string{"--broker", "rabbitmq", "--consumers", "0"}, wantErr: "--consumers 0"},
		{name: "negative idle consumers", args: []string{"--broker", "rabbitmq", "--idle-consumers", "-1"}, wantErr: "--idle-consumers -1"},
		{name: "idle consumers in e2e", args: []string{"--broker", "rabbitmq", "--mode", "e2e", "--idle-consumers", "2"}, wantErr: "--idle-consumers is for --mode publish"},
		{name: "zero prefetch", args: []string{"--broker", "rabbitmq", "--prefetch", "0"}, wantErr: "--prefetch 0"},
		{name: "zero queues", args: []string{"--broker", "rocketmq", "--queues", "0"}, wantErr: "--queues 0"},
		{name: "zero op timeout", args: []string{"--broker", "rabbitmq", "--op-timeout", "0s"}, wantErr: "--op-timeout 0s"},
		{name: "addr without port", args: []string{"--broker", "rabbitmq", "--addr", "localhost"}, wantErr: `--addr "localhost": must be host:port`},
		{name: "addr port zero", args: []string{"--broker", "rabbitmq", "--addr", "localhost:0"}, wantErr: "port must be 1-65535"},
		{name: "addr port not a number", args: []string{"--broker", "rabbitmq", "--addr", "localhost:5x"}, wantErr: "port must be 1-65535"},
		{name: "bad rocketmq broker", args: []string{"--broker", "rocketmq", "--rocketmq-broker", "x:70000"}, wantErr: `--rocketmq-broker "x:70000"`},
		{name: "unknown flag", args: []string{"--broker", "rabbitmq", "--bogus"}, wantErr: "flag provided but not defined: -bogus"},
		{name: "bad duration syntax", args: []string{"--broker", "rabbitmq", "--duration", "ten"}, wantErr: `invalid value "ten" for flag -duration`},
		{name: "positional argument", args: []string{"--broker", "rabbitmq", "extra"}, wantErr: `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var help bytes.Buffer
			c, err := parse(tt.args, &help)
			if help.Len() != 0 {
				t.Errorf("printed %q, want nothing outside --help", help.String())
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				tt.check(t, c)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

// TestRunExitCodes checks that bad input exits 2 with one line on stderr
// and nothing on stdout, and that --help exits 0 with the usage on stdout.
func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{name: "help", args: []string{"--help"}, code: exitOK, wantStdout: "usage: plainloop --broker"},
		{name: "short help", args: []string{"-h"}, code: exitOK, wantStdout: "-duration"},
		{name: "bare", args: nil, code: exitUsage, wantStderr: "plainloop: --broker is required"},
		{name: "bad size", args: []string{"--broker", "activemq", "--size", "1"}, code: exitUsage, wantStderr: "plainloop: --size 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.wantStdout) || (tt.wantStdout == "" && out.Len() > 0) {
				t.Errorf("stdout %q, want %q", out.String(), tt.wantStdout)
			}
			if !strings.Contains(errb.String(), tt.wantStderr) || (tt.wantStderr == "" && errb.Len() > 0) {
				t.Errorf("stderr %q, want %q", errb.String(), tt.wantStderr)
			}
			if tt.wantStderr != "" && strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("stderr is not one line: %q", errb.String())
			}
		})
	}
}
