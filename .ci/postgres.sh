#!/usr/bin/env bash
# A private, throwaway PostgreSQL cluster for the tests of the scenarios'
# optional database_url (scenarios/store and the stateful scenarios), so that
# no test ever touches a system cluster.
#
#   postgres.sh start  install postgresql if missing (apt, as root), create the
#                      cluster and the database mqbench (idempotent), start it
#                      and wait until it accepts connections
#   postgres.sh stop   stop it (fast shutdown); the data stays for the next start
#   postgres.sh env    print the MQBENCH_POSTGRES_URL the tests read
#
# MQBENCH_PG_DIR (default /tmp/mqbench-pg) holds the data, the log and the
# Unix socket; MQBENCH_PG_PORT (default 15432) is the first TCP
# port tried, on 127.0.0.1 only, with trust authentication (loopback and
# socket only). fsync stays on.
#
# The default port sits below Linux's ephemeral range (32768-60999): a port
# inside it can be held for a moment by any outgoing connection on the
# machine, and PostgreSQL then fails with "Address already in use" (it did,
# in CI, on 55432 while the brokers were connecting). If the port is taken
# anyway, start tries the next ones, up to 10; env reads the port the running
# server chose from its postmaster.pid.
# PostgreSQL refuses to run as root, so as root the server runs as the
# postgres OS user.
set -euo pipefail
DIR=${MQBENCH_PG_DIR:-/tmp/mqbench-pg}
FIRST_PORT=${MQBENCH_PG_PORT:-15432}
DATA=$DIR/data
# The running server's port: line 4 of postmaster.pid.
running_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true; }
PORT=$(running_port)
PORT=${PORT:-$FIRST_PORT}

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql_pg() { as_pg timeout 30 "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAq "$@"; }

install() {
	if [ "$(id -u)" != 0 ]; then
		echo "postgres.sh: PostgreSQL is not installed: sudo apt-get install postgresql" >&2
		exit 1
	fi
	echo "postgres.sh: installing postgresql" >&2
	export DEBIAN_FRONTEND=noninteractive
	# A fresh machine runs its automatic updates at boot: wait up to 10
	# minutes for the dpkg lock instead of failing at once.
	local apt=(apt-get -o DPkg::Lock::Timeout=600)
	"${apt[@]}" update -qq
	# No system cluster: it would start on port 5432; ours is private.
	"${apt[@]}" install -y -qq postgresql-common >/dev/null
	sed -i 's/^#\?\s*create_main_cluster.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
	"${apt[@]}" install -y -qq postgresql >/dev/null
}

case ${1:-} in
start)
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then install; fi
	BIN=$(bindir)
	mkdir -p "$DIR"
	if [ "$(id -u)" = 0 ]; then chown postgres: "$DIR"; fi
	if [ ! -s "$DATA/PG_VERSION" ]; then
		rm -rf "$DATA"
		as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 ||
			{ cat "$DIR/initdb.log" >&2; exit 1; }
	fi
	if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
		PORT=$FIRST_PORT
		while :; do
			# No server.log yet on a fresh machine: start from its line 1.
			log_from=1
			if [ -f "$DIR/server.log" ]; then log_from=$(($(wc -l <"$DIR/server.log") + 1)); fi
			if as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
				-o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DIR" start >/dev/null 2>&1; then
				break
			fi
			if tail -n +"$log_from" "$DIR/server.log" 2>/dev/null | grep -q 'Address already in use' &&
				[ "$PORT" -lt $((FIRST_PORT + 9)) ]; then
				echo "postgres.sh: port $PORT is in use, trying $((PORT + 1))" >&2
				PORT=$((PORT + 1))
				continue
			fi
			tail -n +"$log_from" "$DIR/server.log" 2>/dev/null | tail -n 30 >&2
			exit 1
		done
	fi
	PORT=$(running_port)
	if [ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = 'mqbench'")" != 1 ]; then
		psql_pg -c "CREATE DATABASE mqbench"
	fi
	echo "postgres.sh: PostgreSQL $("$BIN/postgres" -V | awk '{print $3}') on 127.0.0.1:$PORT ($DIR)" >&2
	;;
stop)
	BIN=$(bindir)
	if [ -n "$BIN" ] && [ -s "$DATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
		as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
	fi
	;;
env)
	echo "MQBENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/mqbench?sslmode=disable"
	;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
