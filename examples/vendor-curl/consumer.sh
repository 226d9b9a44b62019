#!/usr/bin/env bash
# A vendor's consumer of a Wardline relay feed over the HTTP API, in bash with
# curl and jq: GET /v1/feeds/{feed}/events?after=N&limit=M, page after page.
#
# - Its own cursor file, {"after": N, "last_seq": M}: `after` is the relay's
#   x-wardline-next-after (it may pass seqs the feed does not hold), `last_seq`
#   the last event processed. Written to a temp file, fsynced, renamed.
# - Each page's events are appended to the output file (one JSON line each) and
#   fsynced before the cursor is saved. If the process dies between the two, the
#   output is ahead; on start the last seq in the output file wins, so no event
#   is processed twice (a torn last line is cut off: it was not processed).
# - Continuity: each line's prevSeq must equal the last seq processed (0 at the
#   start). On a mismatch the events before it are kept and the script exits 3
#   naming both seqs.
# - Connection errors, 429 and 5xx: retried with backoff from the cursor. Other
#   4xx: the relay's WL_ code and message are printed and the script exits 2.
# - An empty page: sleeps --poll-seconds. With --wait SECONDS the request asks
#   the relay to hold an empty page that long (wait= in milliseconds); a relay that does
#   not know the parameter answers at once, and the script sleeps as without it.
# - SIGTERM or SIGINT: exits 0 after the current page, its cursor saved.
set -uo pipefail

EXIT_REFUSED=2
EXIT_GAP=3
EXIT_BAD_RESPONSE=4

usage() {
  cat <<'EOF'
usage: consumer.sh --base URL --feed FEED --cursor-file FILE --out FILE [options]
  --base URL                  the relay's HTTP API, e.g. https://relay.example:7480
  --key KEY                   the vendor key (default $WARDLINE_VENDOR_KEY)
  --feed FEED                 the feed to read
  --hospital ID               needed only when the key is granted the feed at several hospitals
  --cursor-file FILE          where the cursor is kept
  --out FILE                  each processed event is appended as one JSON line
  --limit N                   events per page (default 500, at most 10000)
  --wait SECONDS              ask the relay to hold an empty page this long (sent as wait= in milliseconds); default off ($WARDLINE_WAIT_SECONDS)
  --poll-seconds S            sleep after an empty page (default 1)
  --cacert FILE               PEM CA certificate for an https relay
  --stop-after-idle-seconds S exit 0 once caught up and idle this long (for tests)
EOF
}

die() {
  local code=$1
  shift
  echo "consumer.sh: $*" >&2
  exit "$code"
}

base='' key=${WARDLINE_VENDOR_KEY:-} feed='' hospital='' cursor_file='' out='' limit=500
wait_seconds=${WARDLINE_WAIT_SECONDS:-} poll_seconds=1 cacert='' idle_limit=''
while [ $# -gt 0 ]; do
  case $1 in
    --base) base=${2:-} ;;
    --key) key=${2:-} ;;
    --feed) feed=${2:-} ;;
    --hospital) hospital=${2:-} ;;
    --cursor-file) cursor_file=${2:-} ;;
    --out) out=${2:-} ;;
    --limit) limit=${2:-} ;;
    --wait) wait_seconds=${2:-} ;;
    --poll-seconds) poll_seconds=${2:-} ;;
    --cacert) cacert=${2:-} ;;
    --stop-after-idle-seconds) idle_limit=${2:-} ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "$EXIT_REFUSED" "unknown option: $1" ;;
  esac
  [ $# -ge 2 ] || die "$EXIT_REFUSED" "$1: needs a value"
  shift 2
done
for required in base key feed cursor_file out; do
  [ -n "${!required}" ] || die "$EXIT_REFUSED" "--${required//_/-} is required (see --help)"
done
[[ $limit =~ ^[0-9]+$ ]] && [ "$limit" -ge 1 ] || die "$EXIT_REFUSED" "--limit: expected a positive integer, got '$limit'"
[ -z "$wait_seconds" ] || [[ $wait_seconds =~ ^[0-9]+$ ]] || die "$EXIT_REFUSED" "--wait: expected whole seconds, got '$wait_seconds'"
[[ $poll_seconds =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$EXIT_REFUSED" "--poll-seconds: expected seconds, got '$poll_seconds'"
[ -z "$idle_limit" ] || [[ $idle_limit =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$EXIT_REFUSED" "--stop-after-idle-seconds: expected seconds, got '$idle_limit'"
command -v curl >/dev/null || die "$EXIT_REFUSED" "curl is not installed"
command -v jq >/dev/null || die "$EXIT_REFUSED" "jq is not installed"

work=$(mktemp -d) || die "$EXIT_REFUSED" "cannot make a temp dir"
trap 'rm -rf "$work"' EXIT
stopping=0
trap 'stopping=1; echo "signal: stopping after the current page"' TERM INT

now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }

# Sleeps in the background, so a SIGTERM ends the sleep at once.
nap() {
  sleep "$1" &
  wait $! 2>/dev/null
}

# --- cursor and output --------------------------------------------------------

after=0 last_seq=0
if [ -e "$cursor_file" ]; then
  read -r after last_seq < <(jq -r 'select((.after|type) == "number" and (.last_seq|type) == "number") | "\(.after) \(.last_seq)"' "$cursor_file" 2>/dev/null)
  [[ ${after:-} =~ ^[0-9]+$ && ${last_seq:-} =~ ^[0-9]+$ ]] ||
    die "$EXIT_REFUSED" "--cursor-file: $cursor_file does not hold {\"after\": N, \"last_seq\": M}"
fi
cursor_after=$after cursor_last=$last_seq
out_last=0
if [ -s "$out" ]; then
  if [ "$(tail -c 1 "$out" | od -An -tx1 | tr -d ' ')" != 0a ]; then
    # A line without its newline was being written when the process died: it was not processed.
    torn=$(tail -n 1 "$out" | wc -c)
    truncate -s $(( $(stat -c %s "$out") - torn )) "$out"
    echo "cut a torn last line ($torn bytes) off $out"
  fi
  if [ -s "$out" ]; then
    out_last=$(tail -n 1 "$out" | jq -er '.seq') || die "$EXIT_REFUSED" "--out: the last line of $out is not an event line"
  fi
fi
if [ "$out_last" -gt "$last_seq" ]; then
  # The output is written before the cursor: those events were processed.
  last_seq=$out_last
  after=$out_last
fi
: >>"$out" || die "$EXIT_REFUSED" "--out: cannot append to $out"
echo "resume: after=$after last_seq=$last_seq (cursor file after=$cursor_after last_seq=$cursor_last, out file $out_last)"

cursor_dir=$(dirname "$cursor_file")

# The output is synced in the same call as the new cursor's temp file, before the rename publishes it.
save_cursor() {
  local temp="$cursor_file.tmp.$$"
  printf '{"after": %s, "last_seq": %s}\n' "$after" "$last_seq" >"$temp" &&
    sync "$out" "$temp" && mv -f "$temp" "$cursor_file" && sync "$cursor_dir" ||
    die "$EXIT_REFUSED" "cannot write the cursor file $cursor_file"
}

# Whole and decimal seconds as milliseconds, without a process.
to_ms() {
  local whole=${1%%.*} fraction=
  [[ $1 == *.* ]] && fraction=${1#*.}
  fraction=${fraction}000
  echo $(( 10#$whole * 1000 + 10#${fraction:0:3} ))
}

# --- reading -----------------------------------------------------------------

curl_tls=()
[ -z "$cacert" ] || curl_tls=(--cacert "$cacert")
idle_limit_ms=''
[ -z "$idle_limit" ] || idle_limit_ms=$(to_ms "$idle_limit")
backoff_ms=200
retries=0
pages=0
events=0
idle_since=$(now_ms)

retry() {
  retries=$((retries + 1))
  local jittered=$(( backoff_ms / 2 + RANDOM % (backoff_ms / 2 + 1) ))
  echo "retry in ${jittered}ms: $1"
  nap "$(printf '%d.%03d' $((jittered / 1000)) $((jittered % 1000)))"
  backoff_ms=$(( backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2 ))
}

# x-wardline-next-after and x-wardline-high-water from the response head (the last block, after any 100 Continue).
read_headers() {
  next_after='' high_water=''
  local name value
  while IFS=: read -r name value; do
    value=${value//[$' \r']/}
    case ${name,,} in
      x-wardline-next-after) next_after=$value ;;
      x-wardline-high-water) high_water=$value ;;
    esac
  done <"$work/headers"
}

while [ "$stopping" -eq 0 ]; do
  url="$base/v1/feeds/$feed/events?after=$after&limit=$limit"
  [ -z "$hospital" ] || url="$url&hospital=$hospital"
  [ -z "$wait_seconds" ] || url="$url&wait=$(( wait_seconds * 1000 ))"
  started=$(now_ms)
  status=$(curl -sS "${curl_tls[@]}" --max-time $(( ${wait_seconds:-0} + 30 )) -H "authorization: Bearer $key" \
    -D "$work/headers" -o "$work/body" -w '%{http_code}' "$url" 2>"$work/curl-error")
  curl_exit=$?
  if [ "$curl_exit" -ne 0 ]; then
    # Refused, reset, cut mid-page (the relay went away): nothing of the page is used; re-read from the cursor.
    retry "curl exit $curl_exit: $(head -c 200 "$work/curl-error")"
    continue
  fi
  case $status in
    200) ;;
    429 | 5??)
      retry "HTTP $status $(jq -r '.error.code // empty' "$work/body" 2>/dev/null)"
      continue
      ;;
    *)
      code=$(jq -r '.error.code // "no WL_ code"' "$work/body" 2>/dev/null || echo "no WL_ code")
      message=$(jq -r '.error.message // empty' "$work/body" 2>/dev/null || head -c 300 "$work/body")
      die "$EXIT_REFUSED" "the relay refused GET $base/v1/feeds/$feed/events?after=$after: HTTP $status $code: $message"
      ;;
  esac
  backoff_ms=200
  read_headers
  [[ $next_after =~ ^[0-9]+$ && $high_water =~ ^[0-9]+$ ]] ||
    die "$EXIT_BAD_RESPONSE" "the relay's answer lacks x-wardline-next-after or x-wardline-high-water"
  # A cursor past the head was never handed out by this feed (another relay's, another feed's): waiting would wait for nothing.
  [ "$after" -le "$high_water" ] ||
    die "$EXIT_REFUSED" "cursor after=$after is past the feed's high-water mark $high_water: it is not a cursor of this relay's feed $feed"
  # One line per event: seq, prevSeq and the output line (JSON escapes any tab in a string).
  jq -r '"\(.seq)\t\(.prevSeq)\t\({seq, prev_seq: .prevSeq, stream, key, op} | tojson)"' "$work/body" >"$work/page" 2>/dev/null ||
    die "$EXIT_BAD_RESPONSE" "the page after $after is not NDJSON events: $(head -c 200 "$work/body")"

  # The events that follow on from last_seq: all of them, or those before the first gap.
  : >"$work/lines"
  read -r count good new_last bad_seq bad_prev < <(awk -F'\t' -v last="$last_seq" -v lines="$work/lines" '
    !bad && $2 != last { bad_seq = $1; bad_prev = $2; bad = 1 }
    !bad { print $3 > lines; last = $1; good++ }
    END { print NR, good + 0, last, bad_seq, bad_prev }' "$work/page")
  if [ "$good" -gt 0 ]; then
    # One write by the shell itself: a kill leaves whole lines or a torn last one, which the next start cuts.
    printf '%s\n' "$(<"$work/lines")" >>"$out" || die "$EXIT_REFUSED" "cannot append to $out"
    last_seq=$new_last
    events=$((events + good))
  fi
  if [ -n "$bad_seq" ]; then
    after=$last_seq
    save_cursor
    die "$EXIT_GAP" "continuity broken on feed $feed: event seq $bad_seq has prevSeq $bad_prev, but the last event processed was seq $last_seq; events between them are missing"
  fi
  pages=$((pages + 1))
  moved=$(( next_after != after ))
  after=$next_after
  [ "$moved" -eq 0 ] || save_cursor
  caught_up=false
  [ "$next_after" -lt "$high_water" ] || caught_up=true
  echo "page: events=$count next_after=$next_after high_water=$high_water last_seq=$last_seq caught_up=$caught_up"

  if [ "$count" -gt 0 ]; then
    idle_since=$(now_ms)
    continue
  fi
  [ "$caught_up" = true ] || continue
  if [ -n "$idle_limit_ms" ] && [ $(( $(now_ms) - idle_since )) -ge "$idle_limit_ms" ]; then
    echo "idle: caught up at $after for ${idle_limit}s"
    break
  fi
  # Asked to wait and the relay held the page: ask again at once. Otherwise sleep before asking.
  if [ -z "$wait_seconds" ] || [ $(( $(now_ms) - started )) -lt 1000 ]; then
    nap "$poll_seconds"
  fi
done
echo "stopped: last_seq=$last_seq after=$after events=$events pages=$pages retries=$retries"
exit 0
