#!/bin/bash
# policy-review behind nginx, with the example configuration of docs/review-guide.md
# (docs/nginx-review.conf, only its paths and ports replaced): TLS at nginx, the
# __Host- cookie and HSTS because public_url is https, the client address taken from
# X-Forwarded-For only because nginx is a trusted proxy, Host checked.
# usage: nginx_test.sh POLICYCTL POLICY_REVIEW SRC
set -uo pipefail
POLICYCTL=$1 REVIEW=$2 SRC=$3
command -v nginx >/dev/null || export PATH=$PATH:/usr/sbin
command -v nginx >/dev/null || { echo "nginx test: SKIP - nginx not installed (scripts/apt-packages.txt)"; exit 77; }
source "$SRC/scripts/lib/postfix-instance.sh"  # wait_port
RUN=$(mktemp -d /tmp/pm-nginx.XXXXXX)
chmod 755 "$RUN"
BASE=$(free_ports 2) || exit 1
RPORT=$BASE NPORT=$((BASE + 1))
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
cleanup() {
  [ -n "${NGINX_PID:-}" ] && kill "$NGINX_PID" 2>/dev/null
  [ -n "${REVIEW_PID:-}" ] && kill "$REVIEW_PID" 2>/dev/null
  wait 2>/dev/null
  if [ "$FAILED" -ne 0 ]; then tail -20 "$RUN/review.log" "$RUN/error.log" 2>/dev/null; echo "(kept $RUN)"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT

sed -e "s|^dir = \"../rules\"|dir = \"$SRC/rules\"|" \
    -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
    -e "s|^listen = \"127.0.0.1:8025\"|listen = \"127.0.0.1:$RPORT\"|" \
    -e "s|^users_db = .*|users_db = \"$RUN/users.sqlite\"|" \
    -e "s|^# public_url = .*|public_url = \"https://review.stannes.example:$NPORT/\"|" \
    -e "s|^trusted_proxies = .*|trusted_proxies = [\"127.0.0.1\"]|" \
    "$SRC/conf/policy-milter.toml" > "$RUN/policy-milter.toml"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=review.stannes.example" \
  -keyout "$RUN/key.pem" -out "$RUN/cert.pem" >/dev/null 2>&1 || { fail "openssl"; exit 1; }
{
  echo "pid $RUN/nginx.pid; error_log $RUN/error.log; daemon off; worker_processes 1;"
  echo "events { worker_connections 256; }"
  echo "http { access_log off; client_body_temp_path $RUN/body; proxy_temp_path $RUN/proxy;"
  sed -e "s|listen 443 ssl;|listen 127.0.0.1:$NPORT ssl;|" \
      -e "s|/etc/ssl/review.stannes.example.pem|$RUN/cert.pem|" \
      -e "s|/etc/ssl/private/review.stannes.example.key|$RUN/key.pem|" \
      -e "s|127.0.0.1:8025|127.0.0.1:$RPORT|" "$SRC/docs/nginx-review.conf"
  echo "}"
} > "$RUN/nginx.conf"

PASSWORD="demo-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$PASSWORD" | "$POLICYCTL" --config "$RUN/policy-milter.toml" users add head.teacher --role reviewer \
  --password-stdin >/dev/null || { fail "users add"; exit 1; }
"$REVIEW" --config "$RUN/policy-milter.toml" > "$RUN/review.log" 2>&1 &
REVIEW_PID=$!
nginx -p "$RUN" -c "$RUN/nginx.conf" > "$RUN/nginx.out" 2>&1 &
NGINX_PID=$!
wait_port "$RPORT" 20 && wait_port "$NPORT" 20 || { fail "not listening"; exit 1; }

URL=https://review.stannes.example:$NPORT
CURL=(curl -sk --resolve "review.stannes.example:$NPORT:127.0.0.1" --max-time 20)
H=$("${CURL[@]}" -D - -o /dev/null "$URL/")
grep -qi '^strict-transport-security: max-age=' <<<"$H" && echo "ok - HSTS through nginx" || fail "no HSTS: $H"
# A wrong password from 127.0.0.7: the audit names that client, not nginx.
"${CURL[@]}" --interface 127.0.0.7 -o /dev/null -H 'Content-Type: application/json' \
  -d '{"login":"head.teacher","password":"not the password"}' "$URL/api/login"
L=$("${CURL[@]}" -D - -o "$RUN/login.json" -H 'Content-Type: application/json' \
  -d "{\"login\":\"head.teacher\",\"password\":\"$PASSWORD\"}" "$URL/api/login")
grep -qi '^set-cookie: __Host-pm_review=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict; Max-Age=[0-9]*; Secure' <<<"$L" \
  && echo "ok - __Host- cookie, Secure, behind TLS at nginx" || fail "cookie: $L"
if "$POLICYCTL" --config "$RUN/policy-milter.toml" quarantine list >/dev/null; then :; fi
python3 - "$RUN/quarantine/index.sqlite" <<'PY' || fail "sign-in failure not audited with the client's address"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("select action, note from audit where action='sign-in-failed'").fetchall()
assert any("127.0.0.7" in n for _, n in rows), rows
print("ok - the failed sign-in is audited with the client address from X-Forwarded-For")
PY
# Another Host name: refused (421), also through the proxy.
CODE=$(curl -sk --max-time 20 -o /dev/null -w '%{http_code}' --resolve "evil.example:$NPORT:127.0.0.1" "https://evil.example:$NPORT/")
[ "$CODE" = 421 ] && echo "ok - unknown Host refused" || fail "Host evil.example got $CODE"
[ "$FAILED" -eq 0 ] && echo "nginx: PASS"
exit "$FAILED"
