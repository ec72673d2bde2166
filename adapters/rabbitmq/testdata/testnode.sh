#!/bin/bash
# A private RabbitMQ node for the fault tests (faults_test.go), so that they
# never freeze, block or kill the shared broker. Debian's rabbitmq-server
# package must be installed.
#
#   testnode.sh start   start the node (idempotent) and wait until it is ready
#   testnode.sh stop    stop it (graceful, then by pid)
#   testnode.sh ctl ... rabbitmqctl against it
#   testnode.sh env     print the environment the fault tests need
#
# TESTNODE_DIR (default /tmp/mqbench-rabbitmq-testnode) holds its data, logs,
# pid file and Erlang cookie; TESTNODE_PORT (default 5673) is its AMQP port and
# TESTNODE_PORT+20000 its distribution port.
set -euo pipefail
DIR=${TESTNODE_DIR:-/tmp/mqbench-rabbitmq-testnode}
PORT=${TESTNODE_PORT:-5673}
NODE=mqbtest$PORT@localhost
BIN=/usr/lib/rabbitmq/bin
SELF=$(readlink -f "$0")

mkdir -p "$DIR/conf" "$DIR/data" "$DIR/logs"
export HOME=$DIR RABBITMQ_NODENAME=$NODE RABBITMQ_USE_LONGNAME=false \
	RABBITMQ_MNESIA_BASE=$DIR/data RABBITMQ_LOG_BASE=$DIR/logs \
	RABBITMQ_PID_FILE=$DIR/rabbitmq.pid RABBITMQ_CONFIG_FILE=$DIR/conf/rabbitmq.conf \
	RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/conf/enabled_plugins \
	RABBITMQ_DIST_PORT=$((PORT + 20000)) ERL_EPMD_ADDRESS=127.0.0.1 \
	RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"

alive() { [ -s "$DIR/rabbitmq.pid" ] && kill -0 "$(cat "$DIR/rabbitmq.pid")" 2>/dev/null; }

case ${1:-} in
start)
	cat >"$DIR/conf/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$PORT
loopback_users.guest = true
tcp_listen_options.nodelay = true
vm_memory_high_watermark.absolute = 1GiB
disk_free_limit.absolute = 1GB
log.console = false
CONF
	echo '[].' >"$DIR/conf/enabled_plugins"
	if ! alive; then
		rm -f "$DIR/rabbitmq.pid"
		(cd "$DIR" && timeout 60 "$BIN/rabbitmq-server" -detached >>"$DIR/logs/startup.log" 2>&1)
		for _ in $(seq 1 120); do [ -s "$DIR/rabbitmq.pid" ] && break; sleep 0.5; done
	fi
	timeout 90 "$BIN/rabbitmqctl" -n "$NODE" wait --timeout 80 "$DIR/rabbitmq.pid" >/dev/null
	;;
stop)
	if alive; then
		pid=$(cat "$DIR/rabbitmq.pid")
		timeout 60 "$BIN/rabbitmqctl" -n "$NODE" stop "$DIR/rabbitmq.pid" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	;;
ctl)
	shift
	exec timeout 60 "$BIN/rabbitmqctl" -n "$NODE" "$@"
	;;
env)
	echo "MQBENCH_RABBITMQ_ADDR=127.0.0.1:$PORT"
	echo "MQBENCH_RABBITMQ_PIDFILE=$DIR/rabbitmq.pid"
	echo "MQBENCH_RABBITMQ_CTL=$(dirname "$SELF")/testnode-ctl.sh"
	echo "MQBENCH_RABBITMQ_START=$(dirname "$SELF")/testnode-start.sh"
	;;
*)
	echo "usage: $0 start|stop|ctl ARGS|env" >&2
	exit 2
	;;
esac
