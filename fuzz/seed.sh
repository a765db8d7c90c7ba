#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ from the recorded SDK fixtures and the tiny seeds in
# fuzz/seeds/. The corpora are generated, never committed (see .gitignore).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="${FIXTURES:-$here/../../shared/fixtures/envelopes}"
if [ ! -d "$fixtures" ]; then
    echo "fixtures not found at $fixtures (set FIXTURES=...)" >&2
    exit 1
fi
corpus="$here/corpus"
mkdir -p "$corpus"/{envelope,event,event_json,store_body,ingest_decode}

# envelope: every recorded envelope body, as sent (after Content-Encoding).
cp "$fixtures"/*.envelope "$corpus/envelope/"

# event / event_json: the payload of each event item (plus the transactions), cut out
# with the envelope framing rules; and the legacy /store/ JSON bodies.
python3 - "$fixtures" "$corpus" <<'PY'
import json, pathlib, sys
fixtures, corpus = map(pathlib.Path, sys.argv[1:])
for env in sorted(fixtures.glob("*.envelope")):
    body = env.read_bytes()
    pos = body.index(b"\n") + 1
    n = 0
    while pos < len(body):
        end = body.find(b"\n", pos)
        end = len(body) if end < 0 else end
        line = body[pos:end].strip()
        if not line:
            break
        header = json.loads(line)
        start = end + 1
        if header.get("length") is not None:
            stop = start + header["length"]
        else:
            stop = body.find(b"\n", start)
            stop = len(body) if stop < 0 else stop
        if header.get("type") in ("event", "transaction", "feedback"):
            for target in ("event", "event_json"):
                (corpus / target / f"{env.stem}-{n}.json").write_bytes(body[start:stop])
            n += 1
        pos = stop + 1
PY
for f in "$fixtures"/raven-store-*.json; do
    cp "$f" "$corpus/event/"
    cp "$f" "$corpus/event_json/"
done

# store_body: first byte is the size cap / 64; 0xff = 16 KiB.
for f in "$fixtures"/raven-store-*.json "$fixtures"/raven-store-*.json.deflate; do
    { printf '\xff'; cat "$f"; } > "$corpus/store_body/$(basename "$f")"
done
# base64(zlib(json)) and base64(json), as old raven clients sent.
for f in "$fixtures"/raven-store-*.json.deflate; do
    { printf '\xff'; base64 -w 76 "$f"; } > "$corpus/store_body/$(basename "$f").b64"
done
for f in "$fixtures"/raven-store-*.json; do
    { printf '\xff'; base64 -w 0 "$f"; } > "$corpus/store_body/$(basename "$f").b64"
done

# ingest_decode: selector byte picks the coding (index = byte % 8) and the cap (byte >> 3).
# 0xf8 = gzip, 0xf9 = deflate, 0xfa = br, all with a ~15.5 KiB cap.
for f in "$fixtures"/*.gz; do { printf '\xf8'; cat "$f"; } > "$corpus/ingest_decode/$(basename "$f")"; done
for f in "$fixtures"/*.deflate; do { printf '\xf9'; cat "$f"; } > "$corpus/ingest_decode/$(basename "$f")"; done
for f in "$fixtures"/*.br; do { printf '\xfa'; cat "$f"; } > "$corpus/ingest_decode/$(basename "$f")"; done

# Tiny hand-written seeds kept in the repository (edge cases the fixtures lack).
for dir in "$here"/seeds/*/; do
    target="$(basename "$dir")"
    mkdir -p "$corpus/$target"
    cp "$dir"* "$corpus/$target/"
done
cp "$here"/seeds/event/* "$corpus/event_json/"

for d in "$corpus"/*/; do
    printf '%-14s %4d files\n' "$(basename "$d")" "$(find "$d" -type f | wc -l)"
done
