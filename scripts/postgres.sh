# shellcheck shell=bash
# start_postgres starts a throw-away PostgreSQL server for the tests on a
# loopback port and exports ANCHOR_TEST_POSTGRES with its DSN. It reuses a
# server that scripts/test already started (same port), and stops the one it
# started when the calling shell exits.
start_postgres() {
	local port=${ANCHOR_PG_PORT:-54329}
	local bindir
	bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$bindir" ]; then
		echo "PostgreSQL is not installed: tests that need it will fail under CI=true" >&2
		return 0
	fi
	export ANCHOR_TEST_POSTGRES="postgres://anchor@127.0.0.1:$port/anchor?sslmode=disable"
	if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
		return 0
	fi
	local data run_as=()
	data=$(mktemp -d /tmp/anchor-pg.XXXXXX)
	if [ "$(id -u)" = 0 ]; then
		# initdb refuses to run as root.
		chown postgres "$data"
		run_as=(runuser -u postgres --)
	fi
	"${run_as[@]}" "$bindir/initdb" -D "$data/db" -U anchor -A trust >/dev/null
	"${run_as[@]}" "$bindir/pg_ctl" -D "$data/db" -l "$data/log" -w -o \
		"-h 127.0.0.1 -p $port -k $data -c fsync=on -c max_connections=200" start >/dev/null
	"$bindir/createdb" -h 127.0.0.1 -p "$port" -U anchor anchor
	pg_stop_cmd=("${run_as[@]}" "$bindir/pg_ctl" -D "$data/db" -m fast stop)
	trap 'stop_postgres' EXIT
}

stop_postgres() {
	if [ -n "${pg_stop_cmd+x}" ]; then
		"${pg_stop_cmd[@]}" >/dev/null 2>&1 || true
	fi
}
