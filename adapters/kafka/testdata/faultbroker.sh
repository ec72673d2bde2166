#!/bin/sh
# faultbroker.sh start|stop|restart|kill-restart: a private single-node Kafka
# (KRaft) for the adapter's fault tests, so that freezing, killing and
# restarting never touches the shared broker on 9092.
#
#   MQBENCH_KAFKA_CP    Kafka's classpath (kafka_2.13 4.x and its runtime
#                       dependencies), e.g. that of the launcher's broker:
#                       tr '\0' '\n' < /proc/<pid>/cmdline | sed -n '/^-cp$/{n;p}'
#   FAULT_DIR           state directory (default /tmp/kafka-dev)
#   FAULT_PORT          client port (default 19092; controller = port + 1;
#                       a second client listener on port + 2 advertises
#                       127.0.0.1:port + 3, where the network-fault test's
#                       TCP proxy listens, so its clients go through it)
#
# Then, for go test ./adapters/kafka -run TestFault:
#   MQBENCH_KAFKA_FAULT_ADDR=127.0.0.1:19092
#   MQBENCH_KAFKA_FAULT_PIDFILE=/tmp/kafka-dev/pid
#   MQBENCH_KAFKA_RESTART_CMD="adapters/kafka/testdata/faultbroker.sh restart"
#     (or kill-restart for a kill -9)
set -eu
DIR=${FAULT_DIR:-/tmp/kafka-dev}
PORT=${FAULT_PORT:-19092}
CPORT=$((PORT + 1))
PPORT=$((PORT + 2))     # PROXIED listener, behind the test's proxy
PROXY=$((PORT + 3))     # the proxy's port, advertised for PROXIED

start() {
	: "${MQBENCH_KAFKA_CP:?set MQBENCH_KAFKA_CP to Kafka's classpath}"
	mkdir -p "$DIR/conf" "$DIR/data" "$DIR/logs"
	if [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; then
		echo "already running: $(cat "$DIR/pid")"
		return 0
	fi
	cat >"$DIR/conf/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT,PROXIED://127.0.0.1:$PPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,PROXIED://127.0.0.1:$PROXY
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
	cat >"$DIR/conf/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = File
appender.file.fileName = $DIR/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = File
PROPS
	L="-Dlog4j2.configurationFile=$DIR/conf/log4j2.properties"
	if [ ! -f "$DIR/data/meta.properties" ]; then
		timeout 120 java -cp "$MQBENCH_KAFKA_CP" "$L" kafka.tools.StorageTool format \
			-t mqbfaultkafka00000000A -c "$DIR/conf/server.properties" --ignore-formatted >"$DIR/logs/format.log" 2>&1
	fi
	nohup java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true "$L" -Dkafka.logs.dir="$DIR/logs" \
		-cp "$MQBENCH_KAFKA_CP" kafka.Kafka "$DIR/conf/server.properties" >"$DIR/logs/stdout.log" 2>&1 &
	echo $! >"$DIR/pid"
	i=0
	while [ $i -lt 90 ]; do
		if timeout 2 bash -c "echo > /dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
			echo "up: $(cat "$DIR/pid")"
			return 0
		fi
		i=$((i + 1))
		sleep 1
	done
	echo "not up after 90s" >&2
	return 1
}

stop() { # $1 = signal for the first attempt
	[ -f "$DIR/pid" ] || return 0
	P=$(cat "$DIR/pid")
	kill "-$1" "$P" 2>/dev/null || true
	i=0
	while kill -0 "$P" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge 60 ]; then kill -9 "$P" 2>/dev/null || true; fi
		sleep 0.5
	done
	rm -f "$DIR/pid"
}

case "${1:-}" in
start) start ;;
stop) stop TERM ;;
restart) stop TERM && start ;;
kill-restart) stop KILL && start ;;
*)
	echo "usage: $0 start|stop|restart|kill-restart" >&2
	exit 2
	;;
esac
