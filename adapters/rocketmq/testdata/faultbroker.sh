#!/bin/sh
# faultbroker.sh start|stop|env: a private RocketMQ (one name server, one
# master broker) for the adapter's network-fault test (netfaults_test.go), so
# that the shared broker on 9876/10911 is never touched.
#
# RocketMQ clients take the broker's address from the name server (brokerIP1
# and listenPort as the broker registered them), so the broker listens on one
# loopback address and registers another, where the test's TCP proxy listens:
#
#   name server  127.0.0.1:$NS_PORT            (direct, not proxied)
#   broker       127.0.0.2:$PORT               (bindAddress; VIP channel on
#                                               PORT-2, HA on 0.0.0.0:PORT+1)
#   registered   127.0.0.3:$PORT (brokerIP1)   the proxy, -> 127.0.0.2:$PORT
#
# Linux routes all of 127.0.0.0/8 to the loopback interface, so nothing needs
# configuring. The broker flushes synchronously (the durable profile).
#
#   MQBENCH_HOME   where `mqbench up` resolved RocketMQ's classpath
#                  ($MQBENCH_HOME/rocketmq/classpath.txt; default ~/.cache/mqbench)
#   FAULT_DIR      state directory (default /tmp/rocketmq-fault)
#   FAULT_NS_PORT  name server port (default 19876)
#   FAULT_PORT     broker port (default 20911)
#
# Then: env $(faultbroker.sh env) go test -run TestFaultNetwork ./adapters/rocketmq/
set -eu
DIR=${FAULT_DIR:-/tmp/rocketmq-fault}
NS_PORT=${FAULT_NS_PORT:-19876}
PORT=${FAULT_PORT:-20911}
NS_HOST=127.0.0.1
BIND=127.0.0.2  # where the broker listens (the proxy's upstream)
ADV=127.0.0.3   # what it registers (where the proxy listens)
CPFILE=${MQBENCH_HOME:-$HOME/.cache/mqbench}/rocketmq/classpath.txt

# alive broker|namesrv: its pid file names a live process started from $DIR
# (so a recycled pid is never signalled).
alive() {
	[ -s "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$(cat "$DIR/$1.pid")/cmdline" 2>/dev/null | grep -q -- "$DIR/conf/$1"
}

# open HOST PORT: something accepts connections there.
open() { timeout 2 bash -c "echo > /dev/tcp/$1/$2" 2>/dev/null; }

logback() { # $1 = process name
	cat >"$DIR/conf/$1.logback.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <appender name="File" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>$DIR/logs/$1.log</file>
    <append>true</append>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>$DIR/logs/$1.log.%i</fileNamePattern>
      <minIndex>1</minIndex>
      <maxIndex>2</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>20MB</maxFileSize>
    </triggeringPolicy>
    <encoder>
      <pattern>%d{yyyy-MM-dd HH:mm:ss.SSS} %p %t - %m%n</pattern>
    </encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="File"/>
  </root>
</configuration>
XML
}

# wait_for PROC WHAT SECONDS CMD...: poll CMD every second, bounded, and
# give up at once if PROC (broker|namesrv) exits.
wait_for() {
	proc=$1 what=$2 secs=$3
	shift 3
	i=0
	while [ $i -lt "$secs" ]; do
		if "$@"; then return 0; fi
		if ! alive "$proc"; then
			echo "$what: the $proc exited (logs in $DIR/logs)" >&2
			return 1
		fi
		i=$((i + 1))
		sleep 1
	done
	echo "$what not up after ${secs}s (logs in $DIR/logs)" >&2
	return 1
}

# registered: the broker has registered with the name server since it
# started (broker.log is moved aside before each start). "boot success" is
# not enough: the broker registers at start-up only with the name servers its
# client has already connected to, which it does asynchronously, and when it
# has none yet its next attempt is ten seconds later.
registered() { grep -q "Registering current broker to name server completed" "$DIR/logs/broker.log" 2>/dev/null; }

start() {
	if alive namesrv && alive broker; then
		echo "already running: name server $(cat "$DIR/namesrv.pid"), broker $(cat "$DIR/broker.pid")"
		return 0
	fi
	stop # a half-started pair from an earlier run
	[ -s "$CPFILE" ] || {
		echo "no RocketMQ classpath at $CPFILE (run mqbench up once, or set MQBENCH_HOME)" >&2
		return 1
	}
	for hp in "$NS_HOST:$NS_PORT" "$BIND:$((PORT - 2))" "$BIND:$PORT" "127.0.0.1:$((PORT + 1))" "$ADV:$PORT"; do
		if open "${hp%:*}" "${hp#*:}"; then
			echo "$hp is already in use: the private RocketMQ needs it free" >&2
			return 1
		fi
	done
	# Every start begins with an empty store: nothing outlives a test run.
	rm -rf "$DIR/store"
	mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/store"
	for f in namesrv broker; do
		if [ -f "$DIR/logs/$f.log" ]; then mv "$DIR/logs/$f.log" "$DIR/logs/$f.log.prev"; fi
	done
	cat >"$DIR/conf/namesrv.conf" <<CONF
listenPort=$NS_PORT
bindAddress=$NS_HOST
rocketmqHome=$DIR
CONF
	cat >"$DIR/conf/broker.conf" <<CONF
brokerClusterName=FaultCluster
brokerName=broker-fault
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=SYNC_FLUSH
bindAddress=$BIND
listenPort=$PORT
brokerIP1=$ADV
namesrvAddr=$NS_HOST:$NS_PORT
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
rocketmqHome=$DIR
storePathRootDir=$DIR/store
storePathCommitLog=$DIR/store/commitlog
mappedFileSizeCommitLog=67108864
diskMaxUsedSpaceRatio=95
CONF
	logback namesrv
	logback broker
	CP=$(cat "$CPFILE")
	set -- -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true -XX:+ExitOnOutOfMemoryError \
		--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
		--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
		-Duser.home="$DIR" -Drocketmq.home.dir="$DIR"
	nohup java -Xms128m -Xmx256m "$@" -Drmq.logback.configurationFile="$DIR/conf/namesrv.logback.xml" \
		-cp "$CP" org.apache.rocketmq.namesrv.NamesrvStartup -c "$DIR/conf/namesrv.conf" \
		>"$DIR/logs/namesrv.stdout.log" 2>&1 &
	echo $! >"$DIR/namesrv.pid"
	wait_for namesrv "name server $NS_HOST:$NS_PORT" 90 open "$NS_HOST" "$NS_PORT" || { stop; return 1; }
	nohup java -Xms128m -Xmx512m -XX:MaxDirectMemorySize=512m "$@" \
		-Drmq.logback.configurationFile="$DIR/conf/broker.logback.xml" \
		-cp "$CP" org.apache.rocketmq.broker.BrokerStartup -c "$DIR/conf/broker.conf" \
		>"$DIR/logs/broker.stdout.log" 2>&1 &
	echo $! >"$DIR/broker.pid"
	# Ready once the name server lists it: a client finds it at once.
	wait_for broker "broker $BIND:$PORT (registered with the name server)" 120 registered || {
		tail -5 "$DIR/logs/broker.stdout.log" >&2
		stop
		return 1
	}
	echo "up: name server $(cat "$DIR/namesrv.pid") at $NS_HOST:$NS_PORT, broker $(cat "$DIR/broker.pid") at $BIND:$PORT registered as $ADV:$PORT"
}

stop_one() { # $1 = broker | namesrv
	if ! alive "$1"; then
		rm -f "$DIR/$1.pid"
		return 0
	fi
	P=$(cat "$DIR/$1.pid")
	kill -TERM "$P" 2>/dev/null || true
	i=0
	while kill -0 "$P" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge 60 ]; then kill -9 "$P" 2>/dev/null || true; fi
		sleep 0.5
	done
	rm -f "$DIR/$1.pid"
}

stop() {
	stop_one broker
	stop_one namesrv
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) echo "MQBENCH_ROCKETMQ_FAULT_ADDR=$NS_HOST:$NS_PORT" ;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
