#!/usr/bin/env bash
# fetch_tls.sh: TLS is always verified — an https mirror with a certificate the CA bundle does
# not trust is refused (exit 1, nothing kept); with --ca-file naming its CA it is fetched; a
# redirect from https down to http is refused. The certificate is a throwaway one made here.
set -euo pipefail
# shellcheck source=tests/httpd/lib.sh
source "${NMMM_SRC:-$(dirname "$0")/../..}/tests/httpd/lib.sh"
fetch_test_tmp tls
trap fetch_test_cleanup EXIT

mkdir -p "$T/www"
head -c 200000 /dev/urandom >"$T/www/blob.bin"
BLOB=$(sha "$T/www/blob.bin")
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
httpd_start "$T/www" --tls "$T/cert.pem" "$T/key.pem"
HTTPS="https://127.0.0.1:$HTTPD_PORT"

untrusted_certificate_is_refused() {
  run_agent 1 fetch "$HTTPS/blob.bin" --sha256 "$BLOB" --out "$T/o1" && expect_in "$ERR" "$HTTPS/blob.bin" &&
    expect_in "$ERR" "TLS verification failed" && nothing_left "$T/o1"
}

ca_file_makes_it_trusted() {
  run_agent 0 fetch "$HTTPS/blob.bin" --sha256 "$BLOB" --out "$T/o2" --ca-file "$T/cert.pem" && cmp -s "$T/o2" "$T/www/blob.bin"
}

resume_works_over_tls() {
  run_agent 0 fetch "$HTTPS/blob.bin?drop=70000" --sha256 "$BLOB" --out "$T/o3" --ca-file "$T/cert.pem" &&
    cmp -s "$T/o3" "$T/www/blob.bin"
}

redirect_from_https_to_http_is_refused() {
  run_agent 1 fetch "$HTTPS/redirect?to=http://127.0.0.1:9/blob.bin" --sha256 "$BLOB" --out "$T/o4" \
    --ca-file "$T/cert.pem" && expect_in "$ERR" "refused a redirect" && nothing_left "$T/o4"
}

check untrusted_certificate_is_refused untrusted_certificate_is_refused
check ca_file_makes_it_trusted ca_file_makes_it_trusted
check resume_works_over_tls resume_works_over_tls
check redirect_from_https_to_http_is_refused redirect_from_https_to_http_is_refused
finish
