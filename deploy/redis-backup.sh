#!/usr/bin/env bash
# Back up the counter's Redis into DEST: a snapshot (dump.rdb) and the
# append-only files (appendonlydir/), each one consistent. Run it on Redis's
# machine as a user who can read Redis's dir (redis, or root); the arguments
# after DEST go to redis-cli (-p, -s; a password in REDISCLI_AUTH). Hourly
# from cron, for example:
#
#   0 * * * * redis /opt/counter/deploy/redis-backup.sh /var/backups/counter/$(date +\%H)
#
# Then copy DEST to another machine. Restoring: README, "Backups".
# Exit status: 0 done, 1 Redis refused or failed (the reason on stderr), 2 bad usage.
set -euo pipefail

if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: $0 DEST [redis-cli options]" >&2
  exit 2
fi
dest=$1
shift
options=("$@")
wait_limit=${BACKUP_WAIT:-600}  # seconds to wait for a save or a rewrite of Redis's

fail() {
  echo "redis-backup: $*" >&2
  exit 1
}

cli() {
  # Run one redis-cli command and print its answer; stop on an error, for which redis-cli still exits 0.
  local out
  out=$(redis-cli "${options[@]}" "$@" 2>&1) || fail "$*: $out"
  case $out in
    ERR* | NOAUTH* | WRONGPASS* | NOPERM* | LOADING* | *"Could not connect"*) fail "$*: $out" ;;
  esac
  printf '%s\n' "$out"
}

setting() {
  # The value of one of Redis's settings.
  cli CONFIG GET "$1" | sed -n 2p
}

field() {
  # The value of one field of INFO persistence.
  cli INFO persistence | tr -d '\r' | sed -n "s/^$1://p"
}

wait_until() {
  # Wait until the command "$@" succeeds, for at most wait_limit seconds.
  local deadline=$((SECONDS + wait_limit))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "gave up after ${wait_limit} s waiting for $*"
    sleep 0.2
  done
}

no_save_running() { [ "$(field rdb_bgsave_in_progress)" = 0 ]; }
saved_since() { [ "$(field rdb_saves)" -gt "$1" ] && no_save_running; }
no_rewrite_running() { [ "$(field aof_rewrite_in_progress)" = 0 ] && [ "$(field aof_rewrite_scheduled)" = 0 ]; }

dir=$(setting dir)
dbfilename=$(setting dbfilename)
appenddirname=$(setting appenddirname)
mkdir -p "$dest"

# The snapshot. A plain BGSAVE is refused while an AOF rewrite runs (Redis
# starts those by itself), and the last snapshot would be copied instead;
# SCHEDULE waits for the rewrite. A save counted after ours was asked for is ours or newer.
wait_until no_save_running
saves=$(field rdb_saves)
cli BGSAVE SCHEDULE > /dev/null
wait_until saved_since "$saves"
[ "$(field rdb_last_bgsave_status)" = ok ] || fail "the snapshot failed; see Redis's log"
cp "$dir/$dbfilename" "$dest/$dbfilename.part"
mv "$dest/$dbfilename.part" "$dest/$dbfilename"

# The append-only files, with Redis's own rewrites held off while they are
# copied: a rewrite replaces the files that the manifest names, and the copy
# would not load. The setting is put back however this ends.
percentage=$(setting auto-aof-rewrite-percentage)
trap 'redis-cli "${options[@]}" CONFIG SET auto-aof-rewrite-percentage "$percentage" > /dev/null' EXIT
cli CONFIG SET auto-aof-rewrite-percentage 0 > /dev/null
wait_until no_rewrite_running
rm -rf "$dest/$appenddirname.part"
cp -R "$dir/$appenddirname" "$dest/$appenddirname.part"
rm -rf "$dest/$appenddirname"
mv "$dest/$appenddirname.part" "$dest/$appenddirname"
