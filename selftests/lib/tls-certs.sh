# SPDX-License-Identifier: GPL-2.0
#
# Site identities for test clusters, made with the `openssl` command: the
# recipe of Documentation/admin-guide.rst ("Site identities and TLS").
# Sourced by the sites lab (selftests/sites/lib.sh), the demo and the
# e2e tests (user/georepd/tests/e2e_tls.py runs it with bash).
#
#   tls_make_ca DIR [DAYS]       DIR/ca.key (Ed25519, 0600) and DIR/ca.crt
#   tls_make_site DIR NAME [DAYS]
#                                DIR/NAME.key (Ed25519, 0600) and DIR/NAME.crt,
#                                signed by DIR/ca.*, subjectAltName DNS:NAME

# our own openssl.cnf: the VM lab's initramfs has none
tls_cnf() {
	printf '%s\n' "[req]" "distinguished_name = dn" "prompt = no" "[dn]" \
		"CN = unused" "[ca_ext]" "basicConstraints = critical,CA:TRUE" \
		"keyUsage = critical,keyCertSign,cRLSign" \
		"subjectKeyIdentifier = hash" >"$1/openssl.cnf"
}

tls_make_ca() {
	local dir=$1 days=${2:-3650}
	mkdir -p "$dir" && tls_cnf "$dir" || return 1
	(umask 077 && openssl genpkey -algorithm ed25519 -out "$dir/ca.key") || return 1
	openssl req -config "$dir/openssl.cnf" -x509 -new -key "$dir/ca.key" \
		-days "$days" -subj "/CN=georep cluster CA" -extensions ca_ext \
		-out "$dir/ca.crt" || return 1
}

tls_make_site() {
	local dir=$1 name=$2 days=${3:-825}
	(umask 077 && openssl genpkey -algorithm ed25519 -out "$dir/$name.key") || return 1
	openssl req -config "$dir/openssl.cnf" -new -key "$dir/$name.key" \
		-subj "/CN=$name" -out "$dir/$name.csr" || return 1
	printf '%s\n' "subjectAltName=DNS:$name" "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth,clientAuth" >"$dir/$name.ext"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-CAcreateserial -days "$days" -extfile "$dir/$name.ext" \
		-out "$dir/$name.crt" 2>"$dir/$name.err" || { cat "$dir/$name.err" >&2; return 1; }
	rm -f "$dir/$name.err"
	rm -f "$dir/$name.csr" "$dir/$name.ext"
}
