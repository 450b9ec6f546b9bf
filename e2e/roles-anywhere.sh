#!/usr/bin/env bash
# End to end with the real AWS clients: Anchor issues a client certificate, the
# real aws_signing_helper exchanges it for credentials at Anchor's Roles
# Anywhere-compatible relying party, and the real AWS CLI v2 calls STS with
# them. After `anchor revoke`, the same call fails with
# "AccessDeniedException: Certificate revoked", three ways:
#
#   1. import: the CRL is downloaded and imported with aws rolesanywhere
#      import-crl / enable-crl, as with AWS IAM Roles Anywhere;
#   2. follow: a relying party follows the CA's CRL distribution point and
#      denies without anyone importing anything;
#   3. push: the CA pushes each new CRL with UpdateCrl to a relying party.
#
# Everything listens on 127.0.0.1. Requires /usr/bin/aws (Debian's awscli,
# v2), aws_signing_helper, jq and curl; scripts/test installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

AWS=/usr/bin/aws
for tool in "$AWS" aws_signing_helper jq curl openssl; do
	command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/test as root)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/anchor-e2e.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done
	exit 1
}

go build -o "$work/anchor" ./cmd/anchor
anchor() { "$work/anchor" "$@"; }
export ANCHOR_HOME=$work/ca

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_http URL: wait until something answers HTTP at URL, whatever the status.
wait_http() {
	for _ in $(seq 1 300); do
		[ "$(curl -sS -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" != 000 ] && return 0
		sleep 0.1
	done
	fail "$1 did not come up"
}
now_ms() { date +%s%3N; }

# The AWS CLI reads only what this script gives it.
export AWS_CONFIG_FILE=$work/aws-config AWS_SHARED_CREDENTIALS_FILE=$work/aws-credentials
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_CA_BUNDLE AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"

start_ca() {
	"$work/anchor" serve --addr "127.0.0.1:$ca_port" >>"$work/ca.log" 2>&1 &
	ca_pid=$!
	pids+=("$ca_pid")
	wait_http "$ca/healthz"
}

# start_rp NAME [CONFIG]: a relying party with its own data folder and an
# administrator key in the AWS CLI profile admin-NAME.
start_rp() {
	local name=$1 config=${2:-} p
	p=$(port)
	mkdir -p "$work/$name"
	anchor anywhere keys create --data "$work/$name" --json >"$work/$name/key.json"
	cat >>"$AWS_SHARED_CREDENTIALS_FILE" <<-EOF
		[admin-$name]
		aws_access_key_id = $(jq -r .AccessKeyId "$work/$name/key.json")
		aws_secret_access_key = $(jq -r .SecretAccessKey "$work/$name/key.json")
	EOF
	"$work/anchor" anywhere serve --addr "127.0.0.1:$p" --data "$work/$name" \
		${config:+--config "$config"} >"$work/$name.log" 2>&1 &
	pids+=($!)
	eval "${name}_url=http://127.0.0.1:$p"
	wait_http "http://127.0.0.1:$p/trustanchors"
}

# rp NAME ARGS...: aws rolesanywhere against relying party NAME as its admin.
rp() {
	local name=$1 url
	shift
	url=${name}_url
	"$AWS" rolesanywhere "$@" --endpoint-url "${!url}" --profile "admin-$name" --output json
}

# client PROFILE DIR RP TA PA: an AWS CLI profile whose credential_process
# runs the real aws_signing_helper with the certificate in DIR.
client_profile() {
	local profile=$1 dir=$2 url=$3 ta=$4 pa=$5
	cat >>"$AWS_CONFIG_FILE" <<-EOF
		[profile $profile]
		region = us-east-1
		credential_process = aws_signing_helper credential-process --certificate $dir/cert.pem --intermediates $dir/chain.pem --private-key $dir/key.pem --trust-anchor-arn $ta --profile-arn $pa --role-arn $role --endpoint $url
	EOF
}

caller() { "$AWS" sts get-caller-identity --profile "$1" --endpoint-url "$2" --output json 2>&1; }
serial_of() { openssl x509 -in "$1/cert.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//'; }
decimal_of() { python3 -c "print(int('$1', 16))"; }

role=arn:aws:iam::000000000000:role/secops
ca_port=$(port)
ca=http://127.0.0.1:$ca_port
start_ca
anchor ca --bundle >"$work/bundle.pem"
crl_url=$ca/anchor-issuing-ca-dev.crl

# ---- 1. the manual flow, as with AWS IAM Roles Anywhere -------------------------------
echo "== import: trust anchor and profile through the AWS CLI"
start_rp rp1
jq -n --rawfile pem "$work/bundle.pem" '{name: "anchor", enabled: true,
	source: {sourceType: "CERTIFICATE_BUNDLE", sourceData: {x509CertificateData: $pem}}}' \
	>"$work/ta.json"
ta1=$(rp rp1 create-trust-anchor --cli-input-json "file://$work/ta.json" | jq -r .trustAnchor.trustAnchorArn)
pa1=$(rp rp1 create-profile --name secops --role-arns "$role" --enabled |
	jq -r .profile.profileArn)
rp rp1 list-trust-anchors | jq -e '.trustAnchors[] | select(.name == "anchor")' >/dev/null ||
	fail "list-trust-anchors does not show the trust anchor"
rp rp1 list-profiles | jq -e '.profiles[] | select(.name == "secops")' >/dev/null ||
	fail "list-profiles does not show the profile"

anchor request --cn laptop-7.example.com --organizational-unit "Security Operations" \
	--out "$work/c1" >/dev/null
hex1=$(serial_of "$work/c1")
client_profile secops "$work/c1" "$rp1_url" "$ta1" "$pa1"
out=$(caller secops "$rp1_url") || fail "get-caller-identity: $out"
echo "$out" | jq -e --arg s "$hex1" '.Arn | endswith("assumed-role/secops/" + $s)' >/dev/null ||
	fail "unexpected identity: $out"
echo "   $(echo "$out" | jq -r .Arn)"

anchor revoke "$(decimal_of "$hex1")" --reason keyCompromise >/dev/null
for _ in $(seq 1 100); do
	curl -fsS "$crl_url" | openssl crl -inform DER -noout -text | grep -qi "$hex1" && break
	sleep 0.1
done
curl -fsS "$ca/anchor-issuing-ca-dev.crl.pem" -o "$work/crl.pem"
crl_id=$(rp rp1 import-crl --crl-data "fileb://$work/crl.pem" --name anchor-crl \
	--trust-anchor-arn "$ta1" | jq -r .crl.crlId)
rp rp1 enable-crl --crl-id "$crl_id" >/dev/null
out=$(caller secops "$rp1_url") && fail "revoked certificate still gets credentials: $out"
echo "$out" | grep -q "AccessDeniedException: Certificate revoked" || fail "unexpected error: $out"
echo "   denied: $(echo "$out" | grep -o 'AccessDeniedException: Certificate revoked')"

# ---- 2. follow: no import, the relying party follows the CDP --------------------------
echo "== follow: the relying party follows $crl_url"
cat >"$work/rp2.yaml" <<EOF
trust_anchors:
  - name: anchor
    certificate_file: $work/bundle.pem
profiles:
  - name: secops
    role_arns: [$role]
follow:
  - url: $crl_url
    trust_anchor: anchor
    name: anchor-cdp
EOF
start_rp rp2 "$work/rp2.yaml"
ta2=$(rp rp2 list-trust-anchors | jq -r '.trustAnchors[] | select(.name == "anchor") | .trustAnchorArn')
pa2=$(rp rp2 list-profiles | jq -r '.profiles[] | select(.name == "secops") | .profileArn')
anchor request --cn sensor-12.example.com --organizational-unit "Security Operations" \
	--out "$work/c2" >/dev/null
hex2=$(serial_of "$work/c2")
client_profile follow "$work/c2" "$rp2_url" "$ta2" "$pa2"
out=$(caller follow "$rp2_url") || fail "follow: get-caller-identity: $out"
start=$(now_ms)
anchor revoke "$(decimal_of "$hex2")" --reason keyCompromise >/dev/null
denied=
for _ in $(seq 1 300); do
	# The helper alone: the CLI's start-up would dominate the measurement.
	if aws_signing_helper credential-process --certificate "$work/c2/cert.pem" \
		--intermediates "$work/c2/chain.pem" --private-key "$work/c2/key.pem" \
		--trust-anchor-arn "$ta2" --profile-arn "$pa2" --role-arn "$role" \
		--endpoint "$rp2_url" >"$work/out" 2>&1; then
		sleep 0.02
		continue
	fi
	grep -q "Certificate revoked" "$work/out" && denied=$(($(now_ms) - start)) && break
	fail "follow: unexpected failure: $(cat "$work/out")"
done
[ -n "$denied" ] || fail "follow: still not denied after revocation"
out=$(caller follow "$rp2_url") && fail "follow: revoked certificate still accepted"
echo "$out" | grep -q "AccessDeniedException: Certificate revoked" || fail "follow: $out"
echo "   denied ${denied} ms after 'anchor revoke' started (includes that process)"

# ---- 3. push: the CA calls UpdateCrl on a relying party ------------------------------
echo "== push: the CA pushes each new CRL to a relying party"
start_rp rp3
ta3=$(rp rp3 create-trust-anchor --cli-input-json "file://$work/ta.json" | jq -r .trustAnchor.trustAnchorArn)
pa3=$(rp rp3 create-profile --name secops --role-arns "$role" --enabled | jq -r .profile.profileArn)
curl -fsS "$ca/anchor-issuing-ca-dev.crl.pem" -o "$work/crl3.pem"
crl3=$(rp rp3 import-crl --crl-data "fileb://$work/crl3.pem" --name pushed \
	--trust-anchor-arn "$ta3" --enabled | jq -r .crl.crlId)
jq -r .SecretAccessKey "$work/rp3/key.json" >"$work/rp3.secret"
cat >"$ANCHOR_HOME/anchor.yaml" <<EOF
push:
  - endpoint: $rp3_url
    region: us-east-1
    crl_id: $crl3
    access_key_id: $(jq -r .AccessKeyId "$work/rp3/key.json")
    secret_access_key_file: $work/rp3.secret
EOF
kill "$ca_pid"
wait "$ca_pid" 2>/dev/null || true
start_ca
anchor request --cn kiosk-3.example.com --organizational-unit "Security Operations" \
	--out "$work/c3" >/dev/null
hex3=$(serial_of "$work/c3")
client_profile push "$work/c3" "$rp3_url" "$ta3" "$pa3"
out=$(caller push "$rp3_url") || fail "push: get-caller-identity: $out"
start=$(now_ms)
anchor revoke "$(decimal_of "$hex3")" --reason keyCompromise >/dev/null
denied=
for _ in $(seq 1 60); do
	out=$(caller push "$rp3_url") || {
		echo "$out" | grep -q "Certificate revoked" && denied=$(($(now_ms) - start)) && break
		fail "push: unexpected failure: $out"
	}
	sleep 0.05
done
[ -n "$denied" ] || fail "push: still not denied after revocation"
grep -q "CRL pushed" "$work/ca.log" || fail "push: the CA logged no push"
echo "   denied ${denied} ms after 'anchor revoke' started (measured with the AWS CLI)"

echo "roles-anywhere e2e: 3 passed, 0 failed"
