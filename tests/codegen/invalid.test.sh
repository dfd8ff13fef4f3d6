#!/usr/bin/env bash
# invalid.test.sh — one case per invalid google.api.http annotation (tests/codegen/invalid/*.proto;
# they are not under descriptors/test/ because the build compiles every proto there): protoc with
# protoc-gen-portico must fail, write nothing, and print an error that points at the method's
# `option (google.api.http)` as file.proto:line:col and says what is wrong.
set -u
. "$(dirname "$0")/lib.sh"

WORK=$PORTICO_BUILD_DIR/codegen-invalid
mkdir -p "$WORK"
EXTRA_INCLUDE=$CODEGEN_TESTS/invalid

# proto | expected location | expected message (a substring of protoc's output)
CASES='path_var_missing.proto|path_var_missing.proto:26:5: |GET "/v1/items/{nope}": path variable "nope": "nope" is not a field of portico.codegen.invalid.Req
path_var_nested_missing.proto|path_var_nested_missing.proto:26:5: |path variable "sub.missing": "missing" is not a field of portico.codegen.invalid.Sub
path_var_repeated.proto|path_var_repeated.proto:33:5: |path variable "tags" names a repeated field of portico.codegen.invalid.Req
path_var_message.proto|path_var_message.proto:26:5: |path variable "sub" names a message field (portico.codegen.invalid.Sub)
path_var_map.proto|path_var_map.proto:26:5: |path variable "labels" names a map field
body_missing.proto|body_missing.proto:33:5: |POST "/v1/items": body "item" is not a field of portico.codegen.invalid.Req
response_body_missing.proto|response_body_missing.proto:26:5: |response_body "title" is not a field of portico.codegen.invalid.Resp
collision.proto|collision.proto:32:5: |method portico.codegen.invalid.Svc.GetOther: GET "/v1/items/{sub.id}": collides with GET "/v1/items/{name}" of method portico.codegen.invalid.Svc.Get (collision.proto:26:5)
dstar_not_last.proto|dstar_not_last.proto:26:5: |"**" must be the last segment
verb_not_last.proto|verb_not_last.proto:33:5: |path template "/v1/items:search/{name}": a verb (":...") is only allowed after the last segment (column 10)
additional_binding_bad.proto|additional_binding_bad.proto:26:5: |GET "/v1/things/{thing_id}": path variable "thing_id": "thing_id" is not a field
no_path_pattern.proto|no_path_pattern.proto:26:5: |method portico.codegen.invalid.Svc.Create: google.api.http rule has no path pattern
custom_method_bad.proto|custom_method_bad.proto:26:5: |custom method "GET ALL" is neither an HTTP method token'

while IFS='|' read -r proto where message; do
    out=$WORK/${proto%.proto}
    if run_plugin "$out" "" "$proto"; then
        fail "$proto: protoc succeeded, expected an error at $where"
        continue
    fi
    if ! grep -qF -- "--portico_out: $where" "$out.stderr"; then
        fail "$proto: error not at $where"
        sed 's/^/      /' "$out.stderr"
    elif ! grep -F -- "$where" "$out.stderr" | grep -qF -- "$message"; then
        fail "$proto: error at $where does not say: $message"
        sed 's/^/      /' "$out.stderr"
    elif [ -n "$(ls -A "$out")" ]; then
        fail "$proto: outputs written despite the error: $(ls "$out")"
    else
        pass "$proto: $where$message"
    fi
done <<<"$CASES"

# Every error is reported, not just the first: a file with two bad methods gives two lines.
cat "$CODEGEN_TESTS/invalid/path_var_missing.proto" >"$WORK/two_errors.proto"
cat >>"$WORK/two_errors.proto" <<'EOF'

service Other {
  rpc Get(Req) returns (Resp) {
    option (google.api.http) = {
      get: "/v1/others/{also_missing}"
    };
  }
}
EOF
EXTRA_INCLUDE=$WORK
if ! run_plugin "$WORK/two" "" two_errors.proto && grep -q 'two_errors.proto:26:5: .*"nope"' "$WORK/two.stderr" &&
    grep -q 'two_errors.proto:34:5: .*"also_missing"' "$WORK/two.stderr"; then
    pass "two bad methods: both reported, each at its own line"
else
    fail "two bad methods: both reported, each at its own line"
    sed 's/^/      /' "$WORK/two.stderr"
fi

summary
