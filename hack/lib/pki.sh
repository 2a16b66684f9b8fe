# Certificates of the local cluster, signed by its own CA. Sourced, never executed.

# sign_cert DIR NAME SUBJECT EXTENSIONS [CA_DIR]: a P-256 key and a certificate signed by
# CA_DIR/ca.{crt,key} (default: DIR), written as DIR/NAME.{key,crt}.
sign_cert() {
  local dir="$1" name="$2" subject="$3" extensions="$4" ca="$(cd "${5:-$1}" && pwd)"
  (
    cd "$dir"
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out "$name.key" 2>/dev/null
    openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr" 2>/dev/null
    printf '%s\n' "$extensions" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial -sha256 -days 3650 \
      -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
  )
}

# client_kubeconfig FILE SERVER DIR NAME: a kubeconfig for the client certificate DIR/NAME.{crt,key}.
client_kubeconfig() {
  local file="$1" server="$2" dir="$3" name="$4" b64="base64 -w0"
  (
    umask 077
    cat >"$file" <<KC
apiVersion: v1
kind: Config
current-context: warren-local
clusters:
- name: warren-local
  cluster:
    server: $server
    certificate-authority-data: $($b64 <"$dir/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $($b64 <"$dir/$name.crt")
    client-key-data: $($b64 <"$dir/$name.key")
contexts:
- name: warren-local
  context:
    cluster: warren-local
    user: $name
KC
  )
}
