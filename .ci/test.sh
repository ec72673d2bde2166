#!/usr/bin/env bash
# The one test command (see README): installs and starts the four real
# brokers natively, runs every test against them with
# MQBENCH_REQUIRE_BROKERS=1 (a missing broker fails, never skips), and stops
# the brokers again.
set -euo pipefail
cd "$(dirname "$0")/.."

export MQBENCH_REQUIRE_BROKERS=1
export MQBENCH_RESTART=1          # persistence tests may restart brokers
export GOFLAGS=${GOFLAGS:--mod=readonly}

echo "== format and vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...

echo "== build"
mkdir -p bin
go build -o bin/mqbench ./cmd/mqbench

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (report rendering test)"
  if [ "$(id -u)" = 0 ]; then
    # A fresh machine runs its automatic updates at boot: wait up to 10
    # minutes for the dpkg lock instead of failing at once.
    apt-get -o DPkg::Lock::Timeout=600 update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null
  else
    echo "chromium missing: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

echo "== brokers up (native)"
summary=""
on_exit() {
  echo "== brokers down"
  bin/mqbench down || true
  MQBENCH_HOME="${MQBENCH_CLUSTER_HOME:-$HOME/.cache/mqbench-clusters}" bin/mqbench down --topology cluster || true
  .ci/postgres.sh stop || true
  # The closing line: how many test packages passed and failed, and the
  # step that failed after them, if one did.
  if [ -n "$summary$step" ]; then echo "${summary:-packages: not run}${step:+; failed step: $step}"; fi
}
step=""  # set while a step after the package tests runs
trap on_exit EXIT
bin/mqbench up --mode native

echo "== race detector on the core packages"
go test -race -count=1 ./adapters/driver ./adapters/envelope ./adapters/memory ./adapters/drivertest ./scenarios/probe ./scenarios/load

echo "== PostgreSQL (private cluster on 127.0.0.1, port 15432 or the next free one, for the scenarios' database_url tests)"
.ci/postgres.sh start
export "$(.ci/postgres.sh env)"

echo "== the main job: quick matrix over every broker and every default scenario (scenarios/catalog)"
# Fails (exit 1) when any cell's verdict fails. The integration test below
# checks these results' acceptance figures instead of running the same
# cells again (MQBENCH_MATRIX_RESULTS); it runs only what the matrix leaves
# out (rabbitmq-stream, and the cluster-only scenario's refusal).
step="matrix"
matrix_out="results/ci-matrix-$(date -u +%Y%m%dT%H%M%S)"
bin/mqbench matrix --quick --out "$matrix_out"
step=""
export MQBENCH_MATRIX_RESULTS="$PWD/$matrix_out"

echo "== all tests against the real brokers"
# -p 1: integration packages share the brokers and may restart them.
set +e
# -v goes to a log; the terminal gets the package lines and failures.
go test -v -p 1 -count=1 -timeout 45m ./... > /tmp/mqbench-go-test-v.log 2>&1
status=$?
grep -E '^(ok|FAIL|---|panic|\?)|^\s+--- FAIL' /tmp/mqbench-go-test-v.log | grep -v -- '--- PASS' | grep -v -- '--- SKIP' > /tmp/mqbench-go-test.log || true
cat /tmp/mqbench-go-test.log
if [ "$status" -ne 0 ]; then
  echo "== failures (full log: /tmp/mqbench-go-test-v.log)"
  grep -E -B2 -A25 -- '--- FAIL' /tmp/mqbench-go-test-v.log | head -400
fi
set -e
# Skips are listed so that a missing broker can never hide: a test may skip
# only for an undeclared capability or a missing optional tool.
echo "== skipped tests"
grep -E -B3 -- '--- SKIP' /tmp/mqbench-go-test-v.log | grep -vE -- '^--$|=== (RUN|PAUSE|CONT)|--- PASS' || echo "(none)"
# (drivertest's own test of the skip path is the one allowed exception.)
if grep -E -B3 -- '--- SKIP' /tmp/mqbench-go-test-v.log | grep -v 'drivertest_test.go' | grep -qiE 'not reachable|broker absent|no broker'; then
  echo "a test skipped for lack of a broker" >&2
  status=1
fi
passed=$(grep -c '^ok ' /tmp/mqbench-go-test.log || true)
failed=$(grep -cE '^(FAIL|---) ?\S*\s+github.com/' /tmp/mqbench-go-test.log || true)
summary="packages: ${passed} passed, ${failed} failed"
echo "$summary"
if [ "$status" -ne 0 ]; then
  exit "$status"
fi

echo "== fault tests on private brokers (SIGSTOP, kill -9, restarts, memory alarm, network faults)"
step="fault tests"
# Private Kafka (19092), RocketMQ (19876/20911, network faults only) and
# RabbitMQ (5673) nodes, so the shared brokers are never frozen, killed or cut
# off. The Kafka and RocketMQ classpaths are the launcher's.
export MQBENCH_KAFKA_CP
MQBENCH_KAFKA_CP="$(cat "${MQBENCH_HOME:-$HOME/.cache/mqbench}/kafka/classpath.txt")"
kafka_fault="$PWD/adapters/kafka/testdata/faultbroker.sh"
rabbit_node="$PWD/adapters/rabbitmq/testdata/testnode.sh"
"$kafka_fault" start
MQBENCH_KAFKA_FAULT_ADDR=127.0.0.1:19092 MQBENCH_KAFKA_FAULT_PIDFILE=/tmp/kafka-dev/pid \
  MQBENCH_KAFKA_RESTART_CMD="$kafka_fault kill-restart" \
  go test -count=1 -run TestFault ./adapters/kafka/ || { "$kafka_fault" stop; exit 1; }
"$kafka_fault" stop
rocketmq_fault="$PWD/adapters/rocketmq/testdata/faultbroker.sh"
"$rocketmq_fault" start
MQBENCH_ROCKETMQ_FAULT_ADDR=127.0.0.1:19876 go test -count=1 -run TestFaultNetwork ./adapters/rocketmq/ \
  || { "$rocketmq_fault" stop; exit 1; }
"$rocketmq_fault" stop
"$rabbit_node" start
env $("$rabbit_node" env | xargs) go test -tags rabbitmqfaults -count=1 -run Fault ./adapters/rabbitmq/ \
  || { "$rabbit_node" stop; exit 1; }
"$rabbit_node" stop

echo "== replicated clusters, one broker family at a time (conformance + kill -9 of one node)"
step="clusters"
# Their own state directory and ports (Kafka 29092-29094 + 29192-29194,
# RabbitMQ 5682-5684 + 25682-25684), so the single nodes above are
# untouched. MQBENCH_RESTART is off: the persistence test restarts the
# single-node broker, not a cluster.
cluster_home="${MQBENCH_CLUSTER_HOME:-$HOME/.cache/mqbench-clusters}"
cluster_test() { # broker, go package, env var of the address list, env var enabling the cluster tests[, -run pattern[, env var of the management URLs]]
  local b="$1" pkg="$2" addr_var="$3" on_var="$4" run="${5:-TestConformance\$|TestCluster}" mgmt_var="${6:-}" status addr mgmt_env=()
  MQBENCH_HOME="$cluster_home" bin/mqbench up --mode native --topology cluster --brokers "$b"
  status="$(MQBENCH_HOME="$cluster_home" bin/mqbench status --topology cluster --brokers "$b" --json)"
  # The list its adapter dials (RocketMQ: the name servers, not the replicas).
  addr="$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["addr"])' <<<"$status")"
  # Its management URLs, one per node (ActiveMQ: each node's Jolokia agent).
  if [ -n "$mgmt_var" ]; then
    mgmt_env=("$mgmt_var=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["management"])' <<<"$status")")
  fi
  env MQBENCH_HOME="$cluster_home" MQBENCH_RESTART= "$addr_var=$addr" "$on_var=1" "${mgmt_env[@]}" \
    go test -count=1 -timeout 10m -run "$run" "$pkg" \
    || { MQBENCH_HOME="$cluster_home" bin/mqbench down --topology cluster --brokers "$b"; exit 1; }
  MQBENCH_HOME="$cluster_home" bin/mqbench down --topology cluster --brokers "$b"
}
cluster_test kafka ./adapters/kafka/ MQBENCH_KAFKA_ADDR MQBENCH_KAFKA_CLUSTER
# RabbitMQ 5682-5684 (AMQP) + 25682-25684 (distribution) + 15682-15684
# (management API: the quorum members' read-back, from status's
# "management"). RocketMQ's cluster tests run by hand (README, Tests).
cluster_test rabbitmq ./adapters/rabbitmq/ MQBENCH_RABBITMQ_ADDR MQBENCH_RABBITMQ_CLUSTER 'TestConformance$|TestCluster' MQBENCH_RABBITMQ_MANAGEMENT_URL
# ActiveMQ 62613/62623 (STOMP), 62616/62626, Jolokia 62661/62662 (the
# durability read-back, from status's "management").
cluster_test activemq ./adapters/activemq/ MQBENCH_ACTIVEMQ_ADDR MQBENCH_ACTIVEMQ_CLUSTER 'TestConformance$|TestCluster' MQBENCH_ACTIVEMQ_MANAGEMENT_URL

step=""
