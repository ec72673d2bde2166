#!/usr/bin/env bash
# sidebyside.sh: is mqbench the bottleneck? Runs mqbench and a baseline
# written without mqbench side by side, in one sitting, against the running
# brokers (start them first: bin/mqbench up), and prints a table of ratios
# mqbench/baseline per broker:
#
#   publish msg/s  mqbench's capacity publish-only rate (closed loop, no
#                  consumer; metric publish_only_msgs) against the same load
#                  through the broker's own client: Kafka's ProducerPerformance
#                  (acks=all, same record size, batch.size = batch x size,
#                  linger.ms=0), or cmd/plainloop --mode publish (same
#                  producers, batch, size, confirms/persistence; for
#                  ActiveMQ and RocketMQ each producer's key as the
#                  adapter sends it, --key-headers).
#                  The baseline runs just before and just after mqbench
#                  (a broker's rate drifts between runs) and mqbench is
#                  compared with their mean; both are printed. plainloop
#                  keeps 2 consumers subscribed, taking nothing beyond their
#                  prefetch, as capacity's publish-only phase does.
#                  Passes at >= 0.90.
#   e2e p50 ms     mqbench's pubsub end-to-end p50 against a baseline
#                  running the same loop: for RabbitMQ, ActiveMQ and RocketMQ,
#                  cmd/plainloop --mode e2e against pubsub, both open loop
#                  at --e2e-rate (500 msg/s by default). Passes within
#                  +-10%.
#   loop mean ms   (Kafka only) the figure EndToEndLatency prints as its
#                  "Avg latency": the mean time of one round of its loop,
#                  from a send to the moment the message is both
#                  acknowledged (send().get()) and polled, one message in
#                  flight; its first round (the connections' start, over
#                  100 ms) is left out, as mqbench leaves its warm-up out.
#                  mqbench runs the same loop (pubsub with closed_loop: the
#                  next send once the last is confirmed and received), and
#                  its round's mean is its measured window over the messages
#                  sent in it (1000 / throughput.sent_per_s). The tool runs
#                  just before and just after mqbench, as many messages as
#                  mqbench sent, and mqbench is compared with their mean.
#                  Passes within +-10%.
#   loop vs plain  (Kafka only) the same round's mean against
#                  cmd/plainloop --closed-loop on kafka-go, mqbench's own
#                  client library with the adapter's settings (Produce with
#                  acks=all; a group reader with MinBytes 1 and MaxWait
#                  1.5 s, so its fetch waits at the broker for the record);
#                  it runs just before and just after mqbench, inside the
#                  tool's bracket. Passes within +-10%: this separates what
#                  the client library's loop costs from what mqbench adds.
#   loop vs fetch-after-ack  (Kafka only, shown) the same round against
#                  plainloop --fetch-after-ack, kafka-go consuming in the
#                  tool's shape: a fetch with zero wait only after
#                  send().get() returned. It shows what the tool's loop
#                  shape costs apart from its client.
#   cpu ms/msg     (Kafka only, shown) the CPU time (user + system, the
#                  whole process: start, warm-up and all) of mqbench's
#                  closed-loop run and of the tool's, each over the
#                  messages it sent: on a host whose cores the broker
#                  shares, a client's CPU is the broker's loss.
#   e2e mean, p99  the end-to-end mean and p99 (shown, not judged). For
#                  Kafka mqbench's are send to receipt, less than a round
#                  (the confirm's trip back is not in it); the tool's
#                  percentiles are whole milliseconds of its rounds.
#
# Every measured run, on either side, starts after a sync: with
# flush.messages=1 and a few hundred megabytes written by the run before,
# the previous run's dirty pages would otherwise be written back inside
# the next one, and the side that runs second would pay for them.
#
# With --repeat N (1 to 20) every broker's measurements run N times in a
# row, each mqbench run next to its own baseline. The table gives the
# median of each side's N figures, and its ratio is the median of the N
# per-repeat ratios: each repeat pairs mqbench with the baseline run next
# to it, so the pairing, not two medians drawn from different repeats,
# is what is judged. A line per broker lists the N ratios and the ratio
# of the two medians, so that a reader sees how far one sitting moves.
#
# Every result goes to a fresh directory under a new mktemp directory
# (printed at the start and kept): nothing is ever overwritten.
#
# Usage: scenarios/capacity/sidebyside.sh [--brokers kafka,rabbitmq,activemq,rocketmq]
#                                          [--duration 10s] [--size 1024] [--repeat 1]
#                                          [--e2e-rate 500]
# Exit: 0 every figure measured and every judged ratio passed; 1 a ratio
# failed or a figure could not be measured; 2 bad usage.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

brokers="kafka,rabbitmq,activemq,rocketmq"
duration="10s"
size=1024
repeat=1
e2e_rate=500
while [[ $# -gt 0 ]]; do
	case "$1" in
	--brokers) brokers="${2:?--brokers needs a value}"; shift 2 ;;
	--duration) duration="${2:?--duration needs a value}"; shift 2 ;;
	--size) size="${2:?--size needs a value}"; shift 2 ;;
	--repeat) repeat="${2:?--repeat needs a value}"; shift 2 ;;
	--e2e-rate) e2e_rate="${2:?--e2e-rate needs a value}"; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "sidebyside: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
if [[ ! "$duration" =~ ^([1-9][0-9]*)s$ ]]; then
	echo "sidebyside: --duration $duration: must be whole seconds, e.g. 10s" >&2
	exit 2
fi
secs="${BASH_REMATCH[1]}"
if [[ ! "$size" =~ ^[1-9][0-9]*$ ]] || ((size < 40 || size > 1048576)); then
	echo "sidebyside: --size $size: must be between 40 and 1048576" >&2
	exit 2
fi
if [[ ! "$e2e_rate" =~ ^[1-9][0-9]*$ ]] || ((e2e_rate > 100000)); then
	echo "sidebyside: --e2e-rate $e2e_rate: must be a whole number of msg/s from 1 to 100000" >&2
	exit 2
fi
if [[ ! "$repeat" =~ ^[1-9][0-9]*$ ]] || ((repeat > 20)); then
	echo "sidebyside: --repeat $repeat: must be a whole number from 1 to 20" >&2
	exit 2
fi
IFS=',' read -r -a list <<<"$brokers"
for b in "${list[@]}"; do
	case "$b" in kafka | rabbitmq | activemq | rocketmq) ;; *)
		echo "sidebyside: unknown broker $b (kafka, rabbitmq, activemq, rocketmq)" >&2
		exit 2
		;;
	esac
done

# The load shape of both sides (capacity's defaults; pubsub's for e2e).
batch=100
producers=2
warmup=2

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d "${TMPDIR:-/tmp}/mqbench-sidebyside.XXXXXX")"
echo "sidebyside: results and logs in $work"
go build -o bin/mqbench ./cmd/mqbench
go build -o "$work/plainloop" ./cmd/plainloop

# The capacity run keeps to its publish-only and drain-only phases: a
# budget of 1 s leaves no time for a search step.
cat >"$work/capacity.yaml" <<EOF
scenario: capacity
warmup: ${warmup}s
duration: ${secs}s
drain: 10s
size: $size
producers: $producers
consumers: 2
partitions: 2
batch: $batch
budget: 1s
publish_only_max: 100000000
drain_only_timeout: 3m
EOF

# Kafka's end-to-end comparison: pubsub in EndToEndLatency's loop.
cat >"$work/closed-loop.yaml" <<EOF
scenario: pubsub
rate: 0
closed_loop: true
producers: 1
consumers: 1
batch: 1
size: $size
warmup: ${warmup}s
duration: ${secs}s
EOF

# Bash's time keyword writes a timed command's CPU seconds (its children
# included), user then system, to the stderr of the group around it.
TIMEFORMAT='%U %S'

# cpu_per_msg CPUFILE N: the CPU milliseconds per message of a run timed
# into CPUFILE that sent N messages, or "" when either is missing.
cpu_per_msg() {
	local u s
	read -r u s <"$1" 2>/dev/null || true
	awk -v u="$u" -v s="$s" -v n="$2" 'BEGIN { if (u != "" && s != "" && n > 0) printf "%.4f", (u + s) * 1000 / n }'
}

# settle: write back every dirty page before a measured run (see the
# header), so no run pays for the one before it.
settle() { sync; }

# metric FILE JQ: one number from a result, or "" when absent.
metric() { jq -r "$2 // empty" "$1" 2>/dev/null || true; }

# mq BROKER NAME ARGS...: one mqbench run into a fresh directory; a failed
# verdict (exit 1) still wrote its result.json.
mq() {
	local b=$1 name=$2
	shift 2
	local out="$work/mqbench-$b-$name"
	local rc=0
	settle
	{ time bin/mqbench run --broker "$b" --out "$out" "$@" >"$out.log" 2>&1; } 2>"$out.cpu" || rc=$?
	if [[ $rc -gt 1 || ! -f "$out/result.json" ]]; then
		echo "sidebyside: mqbench $b $name failed (exit $rc), see $out.log" >&2
		return 1
	fi
	echo "$out/result.json"
}

# plain BROKER MODE TAG ARGS...: one plainloop run; prints its JSON file.
plain() {
	local b=$1 mode=$2 tag=$3
	shift 3
	local out="$work/plainloop-$b-$mode-$tag.json" keys=()
	# mqbench keys every message with its producer's id, which the
	# ActiveMQ adapter sends as JMSXGroupID (a message group, its per-key
	# order) and mqbench-key-hex, and the RocketMQ adapter as the mqbk
	# property on the queue the key hashes to; the baseline does the same.
	if [[ $b == activemq || $b == rocketmq ]]; then keys=(--key-headers); fi
	settle
	if ! { time "$work/plainloop" --broker "$b" --mode "$mode" --size "$size" --batch "$batch" "${keys[@]}" "$@" >"$out" 2>"$out.log"; } 2>"$out.cpu"; then
		echo "sidebyside: plainloop $b $mode failed, see $out.log" >&2
		return 1
	fi
	echo "$out"
}

kafka_cp() {
	local home="${MQBENCH_HOME:-$HOME/.cache/mqbench}"
	cat "$home/kafka/classpath.txt"
}

# ktopic create|delete TOPIC [PARTITIONS]: topics configured as mqbench's
# durable profile creates them (flush.messages=1).
ktopic() {
	local op=$1 topic=$2
	if [[ $op == create ]]; then
		ktool TopicCommand --bootstrap-server 127.0.0.1:9092 \
			--create --topic "$topic" --partitions "$3" --replication-factor 1 --config flush.messages=1
	else
		ktool TopicCommand --bootstrap-server 127.0.0.1:9092 --delete --topic "$topic"
	fi
}

# ktool CLASS ARGS...: one of Kafka's tools on the launcher's classpath,
# in the JVM Kafka's own bin/kafka-run-class.sh starts its tools in (its
# default KAFKA_HEAP_OPTS and KAFKA_JVM_PERFORMANCE_OPTS).
ktool() {
	local class=$1
	shift
	java -Xmx256M -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
		-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
		-cp "$(kafka_cp)" "org.apache.kafka.tools.$class" "$@"
}

# kafka_publish MQRATE TAG: ProducerPerformance's records/sec, sized to run about
# as long as mqbench's publish-only phase did; where the tool has
# --warmup-records (Kafka 4.2+), the warm-up is excluded as mqbench's is
# and the steady-state figure is the one read.
kafka_publish() {
	local topic="sidebyside-pp-$$-$2" n warm log="$work/kafka-producer-performance-$2.log"
	n=$(awk -v r="$1" -v s="$((secs + warmup))" 'BEGIN { n = int(r * s); if (n < 20000) n = 20000; print n }')
	warm=()
	local help
	help=$(ktool ProducerPerformance --help 2>&1 || true)
	if [[ $help == *--warmup-records* ]]; then
		warm=(--warmup-records "$(awk -v n="$n" -v w="$warmup" -v s="$((secs + warmup))" 'BEGIN { print int(n * w / s) }')")
	fi
	ktopic create "$topic" 2 >"$log" 2>&1
	settle
	ktool ProducerPerformance --topic "$topic" --num-records "$n" "${warm[@]}" \
		--record-size "$size" --throughput -1 --producer-props bootstrap.servers=127.0.0.1:9092 \
		acks=all batch.size=$((batch * size)) linger.ms=0 compression.type=none >>"$log" 2>&1 || true
	ktopic delete "$topic" >>"$log" 2>&1 || true
	if grep -q 'steady state records sent' "$log"; then
		sed -n 's/.*steady state records sent, \([0-9.]*\) records\/sec.*/\1/p' "$log" | tail -1
	else
		grep 'records sent' "$log" | tail -1 | sed -n 's/.* records sent, \([0-9.]*\) records\/sec.*/\1/p'
	fi
}

# kafka_e2e TAG N: EndToEndLatency over N messages, one at a time,
# acks=all: prints its p50 and p99 (ms, whole numbers: the tool prints
# them so), its round's mean in ms with the first round left out (the
# tool prints the first round's time as its progress line "0<TAB>ms")
# and its CPU ms per message.
# Kafka 4.2+ takes named options, older releases positional arguments.
kafka_e2e() {
	local topic="sidebyside-e2e-$$-$1" log="$work/kafka-end-to-end-latency-$1.log" n=$2
	ktopic create "$topic" 1 >"$log" 2>&1
	local help
	help=$(ktool EndToEndLatency --help 2>&1 || true)
	settle
	if [[ $help == *--bootstrap-server* ]]; then
		{ time ktool EndToEndLatency --bootstrap-server 127.0.0.1:9092 --topic "$topic" --num-records "$n" \
			--producer-acks all --record-size "$size" >>"$log" 2>&1; } 2>"$log.cpu" || true
	else
		{ time ktool EndToEndLatency 127.0.0.1:9092 "$topic" "$n" all "$size" >>"$log" 2>&1; } 2>"$log.cpu" || true
	fi
	ktopic delete "$topic" >>"$log" 2>&1 || true
	local pct avg first
	pct=$(sed -n 's/.*50th = \([0-9.]*\), 99th = \([0-9.]*\).*/\1 \2/p' "$log" | tail -1)
	avg=$(sed -n 's/^Avg latency: \([0-9.]*\) ms.*/\1/p' "$log" | tail -1)
	first=$(awk -F'\t' '$1 == "0" { print $2; exit }' "$log")
	if [[ -n "$pct" && -n "$avg" && -n "$first" ]] && ((n > 1)); then
		echo "$pct $(awk -v a="$avg" -v f="$first" -v n="$n" 'BEGIN { printf "%.4f", (a * n - f) / (n - 1) }') $(cpu_per_msg "$log.cpu" "$n")"
	fi
}

# mean2 A B: the mean of A and B, or "" when either is missing.
mean2() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "") printf "%.4f", (a + b) / 2 }'; }

rows=()
spread=()
failed=0
# row BROKER WHAT MQ BASE RULE [RATIO]: RULE is min (ratio >= 0.9), band
# (within +-10%) or show; RATIO, when given, is the ratio judged (the
# median of the per-repeat ratios), else MQ/BASE.
row() {
	local verdict ratio=${6:-}
	if [[ -z "$3" || -z "$4" ]]; then
		rows+=("$(printf '%-9s %-15s %12s %12s %7s  %s' "$1" "$2" "${3:--}" "${4:--}" - "not measured")")
		failed=1
		return
	fi
	if [[ -z "$ratio" ]]; then ratio=$(awk -v a="$3" -v b="$4" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'); fi
	verdict=$(awk -v r="$ratio" -v rule="$5" 'BEGIN {
		if (r == "-") { print "no baseline"; exit }
		if (rule == "min") print (r >= 0.9 ? "ok (>= 0.90)" : "SLOWER (< 0.90)")
		else if (rule == "band") print (r >= 0.9 && r <= 1.1 ? "ok (+-10%)" : "OUTSIDE +-10%")
		else print "shown" }')
	case "$verdict" in SLOWER* | OUTSIDE* | no*) failed=1 ;; esac
	rows+=("$(printf '%-9s %-15s %12.2f %12.2f %7s  %s' "$1" "$2" "$3" "$4" "$ratio" "$verdict")")
}

# measure BROKER TAG: one sitting of BROKER's figures; sets mqpub, bpub,
# mq50, mq99, mqmean, b50, b99, bmean and, for Kafka, mqloop, bloop,
# ploop, aloop, mqcpu and bcpu ("" when not measured). TAG keeps each
# repeat's files apart.
measure() {
	local b=$1 t=$2 f bpub1="" bpub2=""
	# The publish baseline runs before and after mqbench's publish-only
	# phase and mqbench is compared with their mean: a broker's rate drifts
	# from one run to the next, and bracketing shows by how much.
	echo "sidebyside: $b ($t): baseline publish (before)" >&2
	mqpub="" bpub=""
	basepub() {
		if [[ $b == kafka ]]; then
			kafka_publish "${mqpub:-40000}" "$1"
		elif f=$(plain "$b" publish "$1" --producers "$producers" --idle-consumers 2 --warmup "${warmup}s" --duration "$duration"); then
			metric "$f" '.msgs_per_s'
		fi
	}
	bpub1=$(basepub "before-$t")
	echo "sidebyside: $b ($t): mqbench capacity (publish-only)" >&2
	if f=$(mq "$b" "capacity-$t" --scenario capacity --workload "$work/capacity.yaml"); then
		mqpub=$(metric "$f" '.metrics.publish_only_msgs.value')
	fi
	echo "sidebyside: $b ($t): baseline publish (after)" >&2
	bpub2=$(basepub "after-$t")
	bpub=$(mean2 "$bpub1" "$bpub2")
	if [[ -n "$bpub" ]]; then
		spread+=("$(printf '%-9s publish baseline before %.0f, after %.0f msg/s (%s)' "$b" "$bpub1" "$bpub2" "$t")")
	fi
	mq50="" mq99="" mqmean="" mqloop="" mqcpu="" b50="" b99="" bmean="" bloop="" bcpu="" ploop="" aloop=""
	if [[ $b == kafka ]]; then kafka_loop "$t"; else open_e2e "$b" "$t"; fi
}

# kafka_loop TAG: Kafka's end-to-end figures in EndToEndLatency's loop.
# The tool and plainloop's closed loops on kafka-go bracket mqbench (tool,
# plainloop, plainloop --fetch-after-ack, mqbench, and back), as the
# publish baseline does. The tool sends as many messages as mqbench's last
# run did (4000 before the first).
kafka_loop() {
	local t=$1 f sent=${last_sent:-4000} l1 l2 p1 p2 q1 q2 u1 u2 c1 c2 a1 a2
	echo "sidebyside: kafka ($t): EndToEndLatency (before)" >&2
	read -r p1 q1 l1 u1 <<<"$(kafka_e2e "before-$t" "$sent")" || true
	echo "sidebyside: kafka ($t): plainloop closed loop, then fetching after the ack (before)" >&2
	c1=$(plain_loop "before-$t")
	a1=$(plain_loop "before-$t" --fetch-after-ack)
	echo "sidebyside: kafka ($t): mqbench pubsub, closed loop (one message in flight)" >&2
	if f=$(mq kafka "pubsub-$t" --scenario pubsub --workload "$work/closed-loop.yaml"); then
		last_sent=$(metric "$f" '.accounting.sent')
		sent=${last_sent:-$sent}
		mq50=$(metric "$f" '.latency.end_to_end.p50')
		mq99=$(metric "$f" '.latency.end_to_end.p99')
		mqmean=$(metric "$f" '.latency.end_to_end.mean')
		mqloop=$(metric "$f" 'if .throughput.sent_per_s > 0 then 1000 / .throughput.sent_per_s else null end')
		mqcpu=$(cpu_per_msg "${f%/result.json}.cpu" "$last_sent")
	fi
	echo "sidebyside: kafka ($t): plainloop fetching after the ack, then closed loop (after)" >&2
	a2=$(plain_loop "after-$t" --fetch-after-ack)
	c2=$(plain_loop "after-$t")
	echo "sidebyside: kafka ($t): EndToEndLatency (after)" >&2
	read -r p2 q2 l2 u2 <<<"$(kafka_e2e "after-$t" "$sent")" || true
	b50=$(mean2 "$p1" "$p2") b99=$(mean2 "$q1" "$q2") bloop=$(mean2 "$l1" "$l2") bcpu=$(mean2 "$u1" "$u2")
	ploop=$(mean2 "$c1" "$c2") aloop=$(mean2 "$a1" "$a2")
	if [[ -n "$l1" && -n "$l2" ]]; then
		spread+=("$(printf '%-9s loop EndToEndLatency before %.2f, after %.2f ms (%s)' kafka "$l1" "$l2" "$t")")
	fi
	if [[ -n "$c1" && -n "$c2" ]]; then
		spread+=("$(printf '%-9s loop plainloop before %.2f, after %.2f ms (%s)' kafka "$c1" "$c2" "$t")")
	fi
	if [[ -n "$a1" && -n "$a2" ]]; then
		spread+=("$(printf '%-9s loop plainloop --fetch-after-ack before %.2f, after %.2f ms (%s)' kafka "$a1" "$a2" "$t")")
	fi
}

# plain_loop TAG [ARGS...]: plainloop's closed loop on Kafka (kafka-go, the
# adapter's settings), the same shape as closed-loop.yaml; prints its
# round's mean in ms (1000 / its confirmed rate over the window).
plain_loop() {
	local f tag=$1
	shift
	if [[ $# -gt 0 ]]; then tag="$tag-fa"; fi
	if f=$(plain kafka e2e "loop-$tag" --closed-loop --rate 0 --producers 1 --consumers 1 --queues 1 --batch 1 --warmup "${warmup}s" --duration "$duration" "$@"); then
		metric "$f" 'if .msgs_per_s > 0 then 1000 / .msgs_per_s else null end'
	fi
}

# open_e2e BROKER TAG: pubsub against plainloop --mode e2e, both open loop
# at --e2e-rate in pubsub's shape (one producer, one consumer, one queue).
open_e2e() {
	local b=$1 t=$2 f
	echo "sidebyside: $b ($t): mqbench pubsub at $e2e_rate msg/s" >&2
	if f=$(mq "$b" "pubsub-$t" --scenario pubsub --rate "$e2e_rate" --duration "$duration"); then
		mq50=$(metric "$f" '.latency.end_to_end.p50')
		mq99=$(metric "$f" '.latency.end_to_end.p99')
		mqmean=$(metric "$f" '.latency.end_to_end.mean')
	fi
	echo "sidebyside: $b ($t): baseline e2e" >&2
	if f=$(plain "$b" e2e "run-$t" --rate "$e2e_rate" --producers 1 --consumers 1 --queues 1 --warmup 5s --duration "$duration"); then
		b50=$(metric "$f" '.e2e_p50_ms')
		b99=$(metric "$f" '.e2e_p99_ms')
		bmean=$(metric "$f" '.e2e_mean_ms')
	fi
}

# median: the median of the numbers on stdin, one per line, blank lines
# ignored; nothing when there are none.
median() {
	{ grep -v '^$' || true; } | sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) exit
		if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ratio A B: A/B to two decimals, or "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }

# judged BROKER WHAT MQ BASE RULE RATIOS: a judged row whose ratio is the
# median of RATIOS (the per-repeat ratios, one a line), with a line
# listing them and the ratio of the medians when there are several.
judged() {
	local r
	r=$(printf '%s' "$6" | { grep -v '^-$' || true; } | median)
	if [[ -n "$r" ]]; then r=$(printf '%.2f' "$r"); fi
	if ((repeat > 1)); then
		spread+=("$(printf '%-9s %s: %s repeats %s; median %s; ratio of the medians %s' "$1" "$2" "$repeat" "$(printf '%s' "$6" | tr '\n' ' ' | sed 's/ $//')" "${r:--}" "$(ratio "$3" "$4")")")
	fi
	row "$1" "$2" "$3" "$4" "$5" "${r:--}"
}

for b in "${list[@]}"; do
	figs=(mqpub bpub mq50 mq99 mqmean mqloop mqcpu b50 b99 bmean bloop bcpu ploop aloop)
	declare -A all=() rat=()
	for ((r = 1; r <= repeat; r++)); do
		measure "$b" "r$r"
		for v in "${figs[@]}"; do all[$v]+="${!v}"$'\n'; done
		rat[pub]+="$(ratio "$mqpub" "$bpub")"$'\n'
		if [[ $b == kafka ]]; then
			rat[tool]+="$(ratio "$mqloop" "$bloop")"$'\n'
			rat[plain]+="$(ratio "$mqloop" "$ploop")"$'\n'
		else
			rat[e2e]+="$(ratio "$mq50" "$b50")"$'\n'
		fi
	done
	declare -A med=()
	for v in "${figs[@]}"; do
		med[$v]=$(printf '%s' "${all[$v]}" | median)
		# A figure missing from any repeat fails the run, as a missing one does.
		if [[ $b != kafka && ($v == *loop || $v == *cpu) ]]; then continue; fi
		if [[ $(printf '%s' "${all[$v]}" | { grep -vc '^$' || true; }) -lt $repeat ]]; then failed=1; fi
	done
	judged "$b" "publish msg/s" "${med[mqpub]}" "${med[bpub]}" min "${rat[pub]}"
	if [[ $b == kafka ]]; then
		# The tool's own figure, its loop's round, is judged; mqbench's
		# end-to-end (send to receipt, no confirm in it) is shown beside
		# the same round.
		judged "$b" "loop mean ms" "${med[mqloop]}" "${med[bloop]}" band "${rat[tool]}"
		judged "$b" "loop vs plain" "${med[mqloop]}" "${med[ploop]}" band "${rat[plain]}"
		row "$b" "loop vs f-a-ack" "${med[mqloop]}" "${med[aloop]}" show
		row "$b" "cpu ms/msg" "${med[mqcpu]}" "${med[bcpu]}" show
		row "$b" "e2e mean ms" "${med[mqmean]}" "${med[bloop]}" show
		row "$b" "e2e p50 ms" "${med[mq50]}" "${med[b50]}" show
	else
		judged "$b" "e2e p50 ms" "${med[mq50]}" "${med[b50]}" band "${rat[e2e]}"
		row "$b" "e2e mean ms" "${med[mqmean]}" "${med[bmean]}" show
	fi
	row "$b" "e2e p99 ms" "${med[mq99]}" "${med[b99]}" show
	unset all med rat
done

echo
printf '%-9s %-15s %12s %12s %7s  %s\n' BROKER FIGURE MQBENCH BASELINE RATIO VERDICT
printf '%s\n' "${rows[@]}"
if [[ ${#spread[@]} -gt 0 ]]; then printf '%s\n' "${spread[@]}"; fi
echo "results: $work"
exit "$failed"
