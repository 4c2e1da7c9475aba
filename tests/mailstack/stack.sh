#!/usr/bin/env bash
# A private, loopback-only Postfix + Dovecot for sitrep's end-to-end tests.
#
#   stack.sh up STATE_DIR             install if missing, configure, start; writes STATE_DIR/stack.env
#   stack.sh down STATE_DIR           stop both servers
#   stack.sh postfix stop|start STATE_DIR
#   stack.sh dovecot restart STATE_DIR
#
# SMTP 127.0.0.1:$SMTP_PORT (default 2525) accepts mail for company.test and ir-mail.test only and
# delivers over LMTP to Dovecot; submission 127.0.0.1:$SUBMISSION_PORT (default
# 2587) requires STARTTLS and a login (Dovecot SASL) and relays to company.test;
# IMAPS 127.0.0.1:$IMAPS_PORT (default 1993) speaks TLS from the first byte, and
# IMAP 127.0.0.1:$IMAP_PORT (default 1143) offers STARTTLS. Their certificate is
# for mail.company.test and 127.0.0.1, signed by a throwaway CA made here
# ($STATE_DIR/tls/ca.pem). IMAP also takes OAuth 2 (XOAUTH2, OAUTHBEARER): a
# token is valid while it is a line `TOKEN USER` in $STATE_DIR/oauth-tokens, as
# the introspection service on 127.0.0.1:$INTROSPECT_PORT answers Dovecot.
# Logins are plain, or XOAUTH2; IDLE is offered. Users: see USERS; the password
# of user U is "U-secret". A second domain, ir-mail.test (OOB_USERS), stands in
# for the other provider that out-of-band mode uses.
# Needs root: Postfix refuses to run otherwise.
set -euo pipefail

command=${1:?usage: stack.sh up|down|postfix|dovecot ...}
shift
if [ "$command" = postfix ] || [ "$command" = dovecot ]; then
  action=${1:?action}; shift
fi
STATE_DIR=${1:?STATE_DIR}
SMTP_PORT=${SMTP_PORT:-2525}
IMAP_PORT=${IMAP_PORT:-1143}
IMAPS_PORT=${IMAPS_PORT:-1993}
SUBMISSION_PORT=${SUBMISSION_PORT:-2587}
AUTH_PORT=${AUTH_PORT:-12345}
INTROSPECT_PORT=${INTROSPECT_PORT:-12346}
DOMAIN=company.test
USERS="alice bob carol ceo cfo admin incident incident1 incident2 incident3 incident4 incident5 incident6 incident7 incident8 incident9"
OOB_DOMAIN=ir-mail.test
OOB_USERS="alice bob ceo admin incident"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$STATE_DIR"
S=$(cd "$STATE_DIR" && pwd -P)
# Later commands use the ports the stack was brought up with.
if [ "$command" != up ] && [ -f "$S/stack.env" ]; then
  # shellcheck disable=SC1091
  . "$S/stack.env"
fi
DOVECOT_CONF=$S/dovecot/dovecot.conf
DOVECOT_PID=$S/dovecot/run/master.pid
PF_CONF=$S/postfix/etc
PF_PID=$S/postfix/spool/pid/master.pid

pid_of() { tr -d ' \n' 2>/dev/null <"$1" || true; }
# A pid file counts only if its process is this stack's master.
dovecot_alive() { local pid; pid=$(pid_of "$DOVECOT_PID"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
  && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-c $DOVECOT_CONF"; }
postfix_alive() { local pid; pid=$(pid_of "$PF_PID"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
  && [ "$(readlink "/proc/$pid/cwd")" = "$S/postfix/spool" ]; }
wait_gone() { for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; }
banner() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && head -c 4 <&3" 2>/dev/null || true; }
wait_port() { # port: listening, whatever it speaks
  for _ in $(seq 1 150); do timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0; sleep 0.1; done
  die "nothing listens on port $1; see $S/log/"
}
wait_banner() { # port, expected
  for _ in $(seq 1 150); do [ "$(banner "$1")" = "$2" ] && return 0; sleep 0.1; done
  die "no '$2' banner on port $1; see $S/log/"
}

install() {
  local missing=()
  [ -x /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
  [ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
  [ -x /usr/sbin/postfix ] || missing+=(postfix)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v python3 >/dev/null || missing+=(python3)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  # "No configuration": Debian's package then writes no main.cf and starts nothing.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A CA and a server certificate for mail.company.test and 127.0.0.1.
certificates() {
  local tls=$S/tls
  mkdir -p "$tls"
  [ -f "$tls/server.pem" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sitrep test CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>>"$S/log/openssl.log" || die "openssl: see $S/log/openssl.log"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=mail.$DOMAIN" -keyout "$tls/server.key" -out "$tls/server.csr" 2>>"$S/log/openssl.log" || die "openssl: see $S/log/openssl.log"
  printf 'subjectAltName=DNS:mail.%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$DOMAIN" >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 3650 \
    -extfile "$tls/server.ext" -out "$tls/server.pem" 2>>"$S/log/openssl.log" || die "openssl: see $S/log/openssl.log"
  # Dovecot and Postfix read the key as root, before they drop privileges.
  chmod 0644 "$tls/server.pem" "$tls/ca.pem"; chmod 0600 "$tls/server.key"
}

configure() {
  chmod 0755 "$S"   # postfix and the mail user must traverse it
  mkdir -p "$S"/{dovecot/run,dovecot/state,postfix/etc,postfix/spool,postfix/data,log,mail}
  certificates
  chown mail:mail "$S/mail"
  chown postfix:postfix "$S/postfix/data"
  touch "$S/log/dovecot.log" "$S/log/postfix.log"
  { for u in $USERS; do echo "$u@$DOMAIN:{PLAIN}$u-secret::::::"; done
    for u in $OOB_USERS; do echo "$u@$OOB_DOMAIN:{PLAIN}$u-secret::::::"; done; } >"$S/dovecot/passwd"
  chown root:dovecot "$S/dovecot/passwd"; chmod 0640 "$S/dovecot/passwd"
  { for u in $USERS; do echo "$u@$DOMAIN OK"; done; echo "postmaster@$DOMAIN OK"
    for u in $OOB_USERS; do echo "$u@$OOB_DOMAIN OK"; done; } >"$PF_CONF/vmailbox"
  cat >"$DOVECOT_CONF" <<EOF
instance_name = sitrep-test-$IMAP_PORT
base_dir = $S/dovecot/run
state_dir = $S/dovecot/state
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <$S/tls/server.pem
ssl_key = <$S/tls/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_default_realm = $DOMAIN
log_path = $S/log/dovecot.log
first_valid_uid = 8
last_valid_uid = 8
mail_uid = mail
mail_gid = mail
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u $S/dovecot/passwd
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $S/dovecot/oauth2.conf.ext
}
userdb {
  driver = static
  # Every user exists: the OAuth 2 passdb cannot answer a lookup without a token.
  args = uid=mail gid=mail home=$S/mail/%d/%n allow_all_users=yes
}
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = $AUTH_PORT
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}
EOF
  cat >"$S/dovecot/oauth2.conf.ext" <<EOF
introspection_mode = post
introspection_url = http://127.0.0.1:$INTROSPECT_PORT/introspect
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
EOF
  touch "$S/oauth-tokens"
  cat >"$PF_CONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $S/postfix/spool
data_directory = $S/postfix/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.$DOMAIN
mydomain = $DOMAIN
myorigin = \$mydomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_bind_address = 127.0.0.1
virtual_mailbox_domains = $DOMAIN, $OOB_DOMAIN
virtual_mailbox_maps = texthash:$PF_CONF/vmailbox
virtual_transport = lmtp:unix:$S/dovecot/run/lmtp
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination
default_transport = error:relaying disabled in the test stack
relay_transport = error:relaying disabled in the test stack
smtpd_banner = \$myhostname ESMTP test
biff = no
append_dot_mydomain = no
smtputf8_enable = no
maillog_file = $S/log/postfix.log
maillog_file_prefixes = $S
smtpd_tls_cert_file = $S/tls/server.pem
smtpd_tls_key_file = $S/tls/server.key
smtpd_tls_security_level = may
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
EOF
  cat >"$PF_CONF/master.cf" <<EOF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
127.0.0.1:$SUBMISSION_PORT inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path=inet:127.0.0.1:$AUTH_PORT
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
tlsmgr    unix - - n 1000? 1 tlsmgr
EOF
  cat >"$S/stack.env" <<EOF
MAILSTACK_DIR=$S
IMAP_PORT=$IMAP_PORT
SMTP_PORT=$SMTP_PORT
IMAPS_PORT=$IMAPS_PORT
SUBMISSION_PORT=$SUBMISSION_PORT
AUTH_PORT=$AUTH_PORT
INTROSPECT_PORT=$INTROSPECT_PORT
CA_FILE=$S/tls/ca.pem
OAUTH_TOKENS=$S/oauth-tokens
MAILDIR_ROOT=$S/mail/$DOMAIN
EOF
}

start_dovecot() {
  dovecot_alive && return 0
  rm -f "$DOVECOT_PID"
  # The master keeps stdio open: never let it hold the caller's pipes.
  dovecot -c "$DOVECOT_CONF" </dev/null >>"$S/log/dovecot.stderr" 2>&1 || die "dovecot did not start"
  wait_banner "$IMAP_PORT" "* OK"
  wait_port "$IMAPS_PORT"
}
start_postfix() {
  postfix_alive && return 0
  rm -f "$PF_PID"
  postfix -c "$PF_CONF" start </dev/null >>"$S/log/postfix.log" 2>&1 || die "postfix did not start"
  wait_banner "$SMTP_PORT" "220 "
  wait_banner "$SUBMISSION_PORT" "220 "
}
# The OAuth 2 introspection service Dovecot asks about tokens (introspect.py).
INTROSPECT_PID=$S/oauth-introspect.pid
# A pid file counts only if its process is this stack's introspection service.
introspection_alive() { local pid; pid=$(pid_of "$INTROSPECT_PID"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
  && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "introspect.py $INTROSPECT_PORT"; }
start_introspection() {
  introspection_alive && return 0
  python3 "$(dirname "$0")/introspect.py" "$INTROSPECT_PORT" "$S/oauth-tokens" </dev/null >>"$S/log/introspect.log" 2>&1 &
  echo $! >"$INTROSPECT_PID"
  wait_port "$INTROSPECT_PORT"
  introspection_alive || die "the introspection service did not start; see $S/log/introspect.log"
}
stop_introspection() {
  if introspection_alive; then local pid; pid=$(pid_of "$INTROSPECT_PID"); kill -TERM "$pid"; wait_gone "$pid"; fi
  rm -f "$INTROSPECT_PID"
}
stop_dovecot() {
  dovecot_alive || return 0
  local pid; pid=$(pid_of "$DOVECOT_PID"); kill -TERM "$pid"; wait_gone "$pid"
}
stop_postfix() {
  postfix_alive || return 0
  local pid; pid=$(pid_of "$PF_PID")
  postfix -c "$PF_CONF" stop </dev/null >>"$S/log/postfix.log" 2>&1 || kill -TERM "$pid"
  wait_gone "$pid"
}

case $command in
  up) install; configure; start_introspection; start_dovecot; start_postfix
      log "up in $S (IMAP $IMAP_PORT, IMAPS $IMAPS_PORT, SMTP $SMTP_PORT, submission $SUBMISSION_PORT)" ;;
  down) stop_postfix; stop_dovecot; stop_introspection ;;
  postfix) case $action in stop) stop_postfix ;; start) start_postfix ;; *) die "postfix stop|start" ;; esac ;;
  dovecot) case $action in restart) stop_dovecot; start_dovecot ;; *) die "dovecot restart" ;; esac ;;
  *) die "unknown command $command" ;;
esac
