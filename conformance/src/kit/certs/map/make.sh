#!/bin/sh
# Made once (EC P-256 keys, valid for 100 years from 2026): the certificates
# of the tls-map/ scenarios (verify_and_map). A CA of their own (mapca) signs
# client certificates that all share one key (client-key.pem); each carries
# the subject and subject alternative names one Go test maps to a user.
# Run from this folder; it rewrites every file here but itself.
set -e
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out mapca-key.pem
openssl req -x509 -new -key mapca-key.pem -subj "/CN=parity map CA" -days 36500 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out mapca.pem
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out client-key.pem
n=1
cert() { # name subject san...
  name=$1; subj=$2; shift 2
  ext="basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth"
  if [ -n "$1" ]; then ext="$ext
subjectAltName=$1"; fi
  printf '%s\n' "$ext" > ext.tmp
  openssl req -new -key client-key.pem -subj "$subj" -multivalue-rdn -out req.tmp
  openssl x509 -req -in req.tmp -CA mapca.pem -CAkey mapca-key.pem -set_serial $n \
    -days 36500 -extfile ext.tmp -out "$name.pem"
  n=$((n+1))
  rm -f req.tmp ext.tmp
}
cert id "/CN=derek" "email:derek@nats.io"
cert cn-nats "/OU=NATS.io/CN=example.com"
cert cn-core "/OU=CoreTeam/CN=example.com"
cert san-none "/CN=www.nats.io"
cert san-dev "/CN=www.nats.io" "DNS:app.nats.dev,DNS:*.app.nats.dev"
cert san-prod "/CN=www.nats.io" "DNS:app.nats.prod,DNS:*.app.nats.prod"
cert san-dev-email "/CN=www.nats.io" "DNS:app.nats.dev,email:admin@app.nats.dev,email:root@app.nats.dev"
cert rdn-a "/C=US/ST=CA/L=Los Angeles/O=NATS/OU=NATS/CN=localhost/DC=foo1/DC=foo2" "DNS:localhost,DNS:example.com,DNS:www.example.com"
cert rdn-b "/C=US/ST=CA/L=Los Angeles/O=NATS/OU=NATS/CN=localhost" "DNS:localhost,DNS:example.com,DNS:www.example.com"
cert rdn-c "/C=US/ST=CA/L=Los Angeles/O=NATS/OU=NATS/CN=localhost/DC=foo3/DC=foo4" "DNS:localhost,DNS:example.com,DNS:www.example.com"
cert rdn-d "/C=US/ST=CA/L=Los Angeles/OU=NATS/O=NATS/CN=*.example.com/DC=example/DC=com" "DNS:localhost,DNS:example.com,DNS:www.example.com"
cert rdn-e "/CN=John Doe/CN=123456/CN=jdoe/OU=Users/OU=Organic Units/DC=acme/DC=com"
cert rdn-f "/DC=org/DC=OpenSSL/DC=DEV+O=users/CN=John Doe"
cert svid-a "/C=US/O=SPIRE" "URI:spiffe://localhost/my-nats-service/user-a"
cert svid-b "/C=US/O=SPIRE" "URI:spiffe://localhost/my-nats-service/user-b"
rm -f mapca.srl
