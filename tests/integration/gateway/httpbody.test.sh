#!/usr/bin/env bash
# httpbody.test.sh — raw bodies and response_body through the gateway, end to end: the real
# portico binary in front of the real grpc-core shop backend, driven by curl over HTTP/1.1 and
# h2c. google.api.HttpBody both ways: ExportPrices answers a CSV that must arrive byte for byte
# with the backend's content type (no JSON, no newline added); ImportPrices takes the raw
# request body and its Content-Type into an HttpBody field (the backend echoes both, and
# rejects what is not CSV with its own 400), with the other fields still bound from the query.
# response_body: a repeated field answers a bare JSON array, a scalar a bare number (0 too), a
# message field a bare object, an HttpBody field its raw content.
source "$(dirname "$0")/../lib.sh"

PORTICO=${PORTICO_BIN:?}
BACKEND=$(find_bin shop-backend)
SHOP_PB=$PORTICO_BUILD_DIR/descriptors/shop.pb
[ -x "$BACKEND" ] || { echo "shop-backend not built"; exit 1; }

BPORT=$(free_port)
GPORT=$(free_port)
start backend "$BACKEND" --listen 127.0.0.1:$BPORT
wait_port $BPORT

cat >"$TMP/portico.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $GPORT}],
  "workers": 2,
  "descriptors": ["$SHOP_PB"],
  "upstreams": {"shop": {"protocol": "grpc", "targets": ["127.0.0.1:$BPORT"], "timeout_ms": 5000}},
  "grpc_services": [{"service": "shop.v1.PriceService", "upstream": "shop"},
                    {"service": "shop.v1.StockService", "upstream": "shop"}],
  "limits": {"max_request_body_bytes": 65536}
}
JSON

out=$("$PORTICO" check -c "$TMP/portico.json")
check "check exit" 0 $?
for route in "GET    /v1/prices:export" "POST   /v1/prices:import " "POST   /v1/prices:importReport" \
    "GET    /v1/products/{sku}/price/tags" "GET    /v1/products/{sku}/stock/available" "GET    /v1/warehouses/{id}/address"; do
  check_has "check lists $route" "$route" "$out"
done

start gateway "$PORTICO" serve -c "$TMP/portico.json"
GW_PID=$LAST_PID
GW_LOG=$TMP/gateway.log
wait_port $GPORT
U=http://127.0.0.1:$GPORT

# ---- the files --------------------------------------------------------------------------------
CSV='text/csv; charset=utf-8'
printf '%s\r\n' 'sku,display_name,kind,currency,unit_amount,compare_at_amount' \
  'ABC-123,Classic Widget,LIST,USD,19.99,' 'XYZ-999,Gadget Pro,SALE,USD,249.50,299.00' \
  'DEF-456,Spare Gear,LIST,USD,0.45,' 'OLD-001,Retro Widget,CLEARANCE,USD,5.00,12.00' \
  'GIFT-50,Gift Card 50,LIST,USD,50.00,' >"$TMP/export_usd.csv"
printf '%s\r\n' 'sku,display_name,kind,currency,unit_amount,compare_at_amount' \
  'ABC-123,Classic Widget,LIST,JPY,2999,' 'XYZ-999,Gadget Pro,SALE,JPY,37425,44850' \
  'DEF-456,Spare Gear,LIST,JPY,68,' 'OLD-001,Retro Widget,CLEARANCE,JPY,750,1800' \
  'GIFT-50,Gift Card 50,LIST,JPY,7500,' >"$TMP/export_jpy.csv"
# one valid row, then an unknown sku, a bad amount, a short row and a duplicate; a blank line
printf '%s\r\n' 'sku,unit_amount,display_name' 'ABC-123,21.50,"Widget, ""Deluxe"""' 'NOPE-1,1.00,' \
  'XYZ-999,abc,' 'DEF-456,0.45' 'ABC-123,22,' '' >"$TMP/mixed.csv"
printf '%s\r\n' 'line,sku,error' '3,NOPE-1,"unknown sku ""NOPE-1"""' \
  '4,XYZ-999,"unit_amount ""abc"" is not an amount between 0.01 and 1000000.00 like 19.99"' \
  '5,DEF-456,"the row has 2 fields, the header has 3"' '6,ABC-123,sku ABC-123 is already on line 2' >"$TMP/report.csv"
printf 'sku,unit_amount\nABC-123,1\xff\n' >"$TMP/ff.csv"
printf 'sku,unit_amount\nABC-123,1\0\n' >"$TMP/nul.csv"
printf 'sku,unit_amount\n"ABC-123,1\n' >"$TMP/quote.csv"
printf 'sku,unit_amount\n"ABC"-123,1\n' >"$TMP/quote2.csv"
: >"$TMP/empty.csv"
# 30 KB over five valid rows (a long ignored column): a raw body of several HTTP/2 frames
note=$(head -c 6000 /dev/zero | tr '\0' 'n')
{ printf 'sku,unit_amount,note\r\n'; for s in ABC-123 XYZ-999 DEF-456 OLD-001 GIFT-50; do printf '%s,1.00,%s\r\n' $s "$note"; done; } >"$TMP/big.csv"
# 2000 rows, 1999 of them duplicates: the answer (its report lists them all) is about 93 KB
{ printf 'sku,unit_amount\r\n'; for _ in $(seq 2000); do printf 'ABC-123,1.00\r\n'; done; } >"$TMP/many.csv"
head -c 70000 /dev/zero | tr '\0' 'a' >"$TMP/huge.csv"

# ---- helpers -------------------------------------------------------------------------------------
# fetch PROTO METHOD PATH BODYFILE REQ_CT [curl args...]: the response to $TMP/b (exact bytes),
# its headers to $TMP/h; prints the status. BODYFILE "-" sends none; REQ_CT "-" leaves curl's
# default, "NONE" sends no Content-Type at all.
fetch() {
  local proto=$1 method=$2 path=$3 body=$4 rct=$5
  shift 5
  local args=(-s -X "$method" -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' "$proto")
  rm -f "$TMP/h" "$TMP/b"
  touch "$TMP/h" "$TMP/b"
  [ "$body" != - ] && args+=(--data-binary @"$TMP/$body")
  case "$rct" in
    -) ;;
    NONE) args+=(-H 'content-type:') ;;
    *) args+=(-H "content-type: $rct") ;;
  esac
  curl "${args[@]}" "$@" "$U$path" 2>/dev/null
}

trim() {
  local s=$1
  s=${s#"${s%%[! ]*}"}
  printf '%s' "${s%"${s##*[! ]}"}"
}

resp_ct() { tr -d '\r' <"$TMP/h" | sed -n 's/^[Cc]ontent-[Tt]ype: //p'; }

# json_ok EXPR: EXPR (Python) holds for d, the response body parsed as JSON. want(f) is the
# bytes of $TMP/f, size(f) its size, b64 base64-decodes.
json_ok() {
  /usr/bin/python3 - "$TMP" "$1" <<'PY'
import base64, json, os, sys
tmp, expr = sys.argv[1], sys.argv[2]
d = json.load(open(os.path.join(tmp, "b"), encoding="utf-8"))
want = lambda n: open(os.path.join(tmp, n), "rb").read()
size = lambda n: os.path.getsize(os.path.join(tmp, n))
b64 = base64.b64decode
sys.exit(0 if eval(expr) else 1)
PY
}

# expect NAME EXPECTATION: "=FILE" the body is exactly $TMP/FILE; "~TEXT" it contains TEXT;
# "json:EXPR" see json_ok. A "*" content type is not checked.
expect() {
  local name=$1 e=$2
  case "$e" in
    =*) if cmp -s "$TMP/${e#=}" "$TMP/b"; then ok; else bad "$name: body is not exactly ${e#=}: $(head -c 400 "$TMP/b" | od -c | head -8)"; fi ;;
    '~'*) check_has "$name: body" "${e#\~}" "$(cat "$TMP/b")" ;;
    json:*) if json_ok "${e#json:}"; then ok; else bad "$name: body fails ${e#json:}: $(head -c 600 "$TMP/b")"; fi ;;
    *) bad "$name: bad expectation $e" ;;
  esac
}

# ---- the case table: read-only or dry-run, so each runs the same over both protocols --------------
# name | method | path | body file | request content type | status | response content type | expectation
CASES='export, raw CSV | GET | /v1/prices:export | - | - | 200 | text/csv; charset=utf-8 | =export_usd.csv
export in yen | GET | /v1/prices:export?currency=JPY | - | - | 200 | text/csv; charset=utf-8 | =export_jpy.csv
export, backend error is JSON | GET | /v1/prices:export?currency=XXX | - | - | 400 | application/json | json:d["code"] == 3 and d["message"] == "currency \"XXX\" is not supported; use USD, EUR, GBP or JPY"
export, unknown query | GET | /v1/prices:export?colour=red | - | - | 400 | application/json | ~colour
tags: bare array | GET | /v1/products/ABC-123/price/tags | - | - | 200 | application/json | json:d == ["widget", "hardware"]
tags with query binding | GET | /v1/products/XYZ-999/price/tags?currency=EUR | - | - | 200 | application/json | json:d == ["gadget", "electronics", "sale"]
tags: unknown sku | GET | /v1/products/NOPE-1/price/tags | - | - | 404 | application/json | json:d["code"] == 5 and "NOPE-1" in d["message"]
available: bare number | GET | /v1/products/ABC-123/stock/available | - | - | 200 | application/json | json:d == 42
available: zero is printed | GET | /v1/products/DEF-456/stock/available | - | - | 200 | application/json | json:d == 0 and type(d) is int
available in one warehouse | GET | /v1/products/ABC-123/stock/available?warehouse=ber-1 | - | - | 200 | application/json | json:d == 3
address: bare object | GET | /v1/warehouses/ams-1/address | - | - | 200 | application/json | json:d == {"street": "Havenstraat 12", "city": "Amsterdam", "postalCode": "1013 AB", "country": "NL"}
warehouse: whole message | GET | /v1/warehouses/lon-1 | - | - | 200 | application/json | json:d["id"] == "lon-1" and d["address"]["postalCode"] == "E16 1AA" and "active" not in d
address: unknown warehouse | GET | /v1/warehouses/zzz-9/address | - | - | 404 | application/json | json:d["code"] == 5 and "zzz-9" in d["message"]
import: raw body and content type reach the backend | POST | /v1/prices:import?dryRun=true | mixed.csv | text/csv | 200 | application/json | json:d["contentType"] == "text/csv" and d["sizeBytes"] == str(size("mixed.csv")) and d["dryRun"] is True and "applied" not in d
import: rows counted and named | POST | /v1/prices:import?dryRun=true | mixed.csv | text/csv | 200 | application/json | json:(d["rows"], d["validRows"], d["invalidRows"]) == (5, 1, 4) and [(e["line"], e["sku"]) for e in d["errors"]] == [(3, "NOPE-1"), (4, "XYZ-999"), (5, "DEF-456"), (6, "ABC-123")]
import: HttpBody field in JSON | POST | /v1/prices:import?dry_run=true | mixed.csv | text/csv | 200 | application/json | json:d["report"]["contentType"] == "text/csv; charset=utf-8" and b64(d["report"]["data"]) == want("report.csv")
import: content type kept verbatim | POST | /v1/prices:import?dryRun=true | mixed.csv | text/csv; charset=UTF-8; header=present | 200 | application/json | json:d["contentType"] == "text/csv; charset=UTF-8; header=present" and d["validRows"] == 1
import: not CSV, backend 400 | POST | /v1/prices:import?dryRun=true | mixed.csv | application/json | 400 | application/json | json:d["code"] == 3 and d["message"] == "content type \"application/json\" is not CSV; send the file as text/csv" and d["details"][0]["fieldViolations"][0]["field"] == "file.content_type"
import: no content type | POST | /v1/prices:import?dryRun=true | mixed.csv | NONE | 400 | application/json | json:d["code"] == 3 and d["message"] == "the file has no content type; send it as text/csv"
import: not UTF-8, bytes exact | POST | /v1/prices:import?dryRun=true | ff.csv | text/csv | 400 | application/json | json:d["message"] == "the file is not valid UTF-8: byte 26 (0xff, line 2)"
import: NUL byte kept | POST | /v1/prices:import?dryRun=true | nul.csv | text/csv | 400 | application/json | json:d["message"] == "the file holds a NUL byte (line 2, byte 26): it is not a CSV text file"
import: broken quote | POST | /v1/prices:import?dryRun=true | quote.csv | text/csv | 400 | application/json | json:d["message"] == "the file is not valid CSV: line 2: a quoted field is never closed"
import: text after a closing quote | POST | /v1/prices:import?dryRun=true | quote2.csv | text/csv | 400 | application/json | json:d["message"].startswith("the file is not valid CSV: line 2: unexpected byte 0x2d (") and d["message"].endswith(") after a closing quote; a quote inside a quoted field is written \"\"")
import: empty body | POST | /v1/prices:import?dryRun=true | empty.csv | text/csv | 400 | application/json | json:d["message"] == "the file is empty; expected a header row"
import: 30 KB body | POST | /v1/prices:import?dryRun=true | big.csv | text/csv | 200 | application/json | json:d["sizeBytes"] == str(size("big.csv")) and (d["rows"], d["validRows"], d.get("invalidRows", 0)) == (5, 5, 0)
import: 93 KB answer | POST | /v1/prices:import?dryRun=true | many.csv | text/csv | 200 | application/json | json:(d["rows"], d["validRows"], d["invalidRows"]) == (2000, 1, 1999) and len(d["errors"]) == 20 and b64(d["report"]["data"]).count(b"\r\n") == 2000
import: over the body limit | POST | /v1/prices:import?dryRun=true | huge.csv | text/csv | 413 | * | ~
import: unknown query | POST | /v1/prices:import?colour=red | mixed.csv | text/csv | 400 | application/json | ~colour
import: GET is 405 | GET | /v1/prices:import | - | - | 405 | application/json | ~"code"'

for proto in --http1.1 --http2-prior-knowledge; do
  while IFS='|' read -r name method path body rct status ct e; do
    name="$(trim "$name") ($proto)"
    got=$(fetch "$proto" "$(trim "$method")" "$(trim "$path")" "$(trim "$body")" "$(trim "$rct")")
    check "$name: status" "$(trim "$status")" "$got"
    [ "$(trim "$ct")" = "*" ] || check "$name: content-type" "$(trim "$ct")" "$(resp_ct)"
    expect "$name" "$(trim "$e")"
  done <<<"$CASES"
done

# a header value may hold bytes that are not UTF-8; the backend refuses them instead of echoing
for proto in --http1.1 --http2-prior-knowledge; do
  r=$(fetch $proto POST "/v1/prices:import?dryRun=true" mixed.csv $'text/csv; name=caf\xe9')
  check "import: content type not UTF-8 ($proto): status" 400 "$r"
  expect "import: content type not UTF-8 ($proto)" 'json:d["message"] == "the content type is not valid UTF-8 (byte 19 is 0xe9)"'
done

# ---- a sequence that changes prices: applied over one protocol, seen over the other --------------
printf '%s\r\n' 'sku,unit_amount,display_name,kind,compare_at_amount' 'XYZ-999,199.00,"Gadget Pro, ""2nd"" gen",SALE,249.50' \
  "GIFT-50,55,Cadeau Caf$(printf '\xc3\xa9') $(printf '\xf0\x9f\x8e\x81'),," 'NOPE-1,1,,,' >"$TMP/update.csv"
r=$(fetch --http1.1 POST /v1/prices:import update.csv 'text/csv; charset=utf-8')
check "apply: status" 200 "$r"
expect "apply: two rows applied, one rejected" 'json:(d["applied"], d["validRows"], d["invalidRows"]) == (2, 2, 1) and d["errors"][0]["line"] == 4 and "dryRun" not in d'
printf '%s\r\n' 'sku,display_name,kind,currency,unit_amount,compare_at_amount' \
  'ABC-123,Classic Widget,LIST,USD,19.99,' 'XYZ-999,"Gadget Pro, ""2nd"" gen",SALE,USD,199.00,249.50' \
  'DEF-456,Spare Gear,LIST,USD,0.45,' 'OLD-001,Retro Widget,CLEARANCE,USD,5.00,12.00' \
  "GIFT-50,Cadeau Caf$(printf '\xc3\xa9') $(printf '\xf0\x9f\x8e\x81'),LIST,USD,55.00," >"$TMP/export_after.csv"
r=$(fetch --http2-prior-knowledge GET /v1/prices:export - -)
check "export after import: status" 200 "$r"
expect "export after import: quoted field and UTF-8 bytes exact" "=export_after.csv"
cp "$TMP/b" "$TMP/roundtrip.csv"
r=$(fetch --http1.1 GET /v1/products/XYZ-999/price - -)
expect "the JSON API sees the import" 'json:d["displayName"] == "Gadget Pro, \"2nd\" gen" and d["unitAmountMicros"] == "199000000" and d["compareAtMicros"] == "249500000" and d["version"] == "5"'
r=$(fetch --http2-prior-knowledge GET /v1/products/GIFT-50/price - -)
expect "UTF-8 from a raw body reaches JSON" 'json:d["displayName"] == "Cadeau Caf\u00e9 \U0001f381" and d["unitAmountMicros"] == "55000000"'
r=$(fetch --http2-prior-knowledge POST "/v1/prices:import?dryRun=true" roundtrip.csv 'text/csv; charset=utf-8')
expect "export -> import round trip: every row valid" 'json:(d["rows"], d["validRows"], d.get("invalidRows", 0)) == (5, 5, 0) and d["sizeBytes"] == str(size("roundtrip.csv"))'
r=$(fetch --http1.1 POST "/v1/prices:import?dryRun=true" mixed.csv text/csv -H 'transfer-encoding: chunked')
check "chunked HTTP/1.1 body: status" 200 "$r"
expect "chunked HTTP/1.1 body arrives whole" 'json:d["sizeBytes"] == str(size("mixed.csv")) and d["validRows"] == 1'
r=$(fetch --http1.1 PATCH "/v1/products/GIFT-50/price?updateMask=tags" - application/json --data '{}')
check "clear tags: status" 200 "$r"
r=$(fetch --http2-prior-knowledge GET /v1/products/GIFT-50/price/tags - -)
expect "response_body of an empty repeated field is []" 'json:d == []'

# ---- response_body naming an HttpBody field: the report, raw. Last, because a gateway that
# ---- crashes here would take the cases after it down too. -------------------------------------
for proto in --http1.1 --http2-prior-knowledge; do
  if ! kill -0 $GW_PID 2>/dev/null; then # the case before took it down: start another for this one
    start "gateway-$proto" "$PORTICO" serve -c "$TMP/portico.json"
    GW_PID=$LAST_PID
    GW_LOG=$TMP/gateway-$proto.log
    wait_port $GPORT
  fi
  r=$(fetch $proto POST "/v1/prices:importReport?dryRun=true" mixed.csv text/csv)
  check "importReport ($proto): status" 200 "$r"
  check "importReport ($proto): content-type" "$CSV" "$(resp_ct)"
  expect "importReport ($proto): raw report" "=report.csv"
  sleep 0.3
  if kill -0 $GW_PID 2>/dev/null; then ok; else
    for _ in $(seq 50); do kill -0 $GW_PID 2>/dev/null || break; sleep 0.1; done
    wait $GW_PID 2>/dev/null
    bad "importReport ($proto): the gateway died; its log says:"
    grep -m1 -A12 'ERROR' "$GW_LOG" >&2
  fi
done

kill -0 $GW_PID 2>/dev/null || { start gateway-last "$PORTICO" serve -c "$TMP/portico.json"; GW_PID=$LAST_PID; wait_port $GPORT; }
r=$(fetch --http1.1 GET /v1/products/ABC-123/price/tags - -)
check "still serving" 200 "$r"
summary
