#!/usr/bin/env bash
# Seed corpus for attach_fuzz: every real Office/PDF/archive fixture of
# tests/unit/attachments/fixtures, each prefixed with the byte that makes attach_fuzz give it
# a matching name (the first input byte picks the name; see attach_fuzz.cpp's kNames).
#   fuzz/make_attach_seeds.sh OUT_DIR
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)/tests/unit/attachments/fixtures
OUT=${1:?OUT_DIR}
mkdir -p "$OUT"
for f in "$SRC"/*; do
  case "$f" in
    *.py) continue ;;
    *.docx) i=1 ;; *.xlsx) i=2 ;; *.pptx) i=3 ;; *.odt|*.ods) i=4 ;; *.pdf) i=5 ;;
    *.zip) i=6 ;; *.csv) i=7 ;; *.html) i=8 ;; *.xls) i=9 ;; *.doc) i=10 ;;
    *.tar.*|*.cpio) i=11 ;; *.gz) i=12 ;; *.7z) i=13 ;; *) i=0 ;;
  esac
  { printf "\\$(printf '%03o' "$i")"; cat "$f"; } > "$OUT/$(basename "$f")"
done
ls "$OUT" | wc -l
