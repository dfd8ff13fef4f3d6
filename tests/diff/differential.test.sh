#!/usr/bin/env bash
# differential.test.sh — ctest entry for the codec's differential test against python-protobuf's
# json_format (see differential.py). Uses Debian's /usr/bin/python3, which has python3-protobuf;
# extra arguments pass through (e.g. `-n 5000 --seed random`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${PORTICO_BIN:?set PORTICO_BIN to the portico binary}"
: "${PORTICO_DESC_DIR:?set PORTICO_DESC_DIR to the built descriptor sets}"
if ! /usr/bin/python3 -c 'import google.protobuf.json_format' 2>/dev/null; then
    echo "error: /usr/bin/python3 has no google.protobuf (apt-get install python3-protobuf)" >&2
    exit 1
fi
exec /usr/bin/python3 "$here/differential.py" --portico "$PORTICO_BIN" --desc "$PORTICO_DESC_DIR/codec_test.pb" "$@"
