#!/usr/bin/env bash
# Turn an annual report DOCX into a PDF and one PNG per page, so a person can look at
# it without Word: scripts/render-report.sh REPORT.docx [OUT_DIR]
#
# Installs LibreOffice Writer (headless) and poppler-utils with apt when they are
# missing (Debian), then runs:
#   soffice --headless --convert-to pdf --outdir OUT_DIR REPORT.docx
#   pdftoppm -png -r 80 OUT_DIR/REPORT.pdf OUT_DIR/REPORT-page
set -euo pipefail

log() { printf '[render-report] %s\n' "$*" >&2; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 REPORT.docx [OUT_DIR (default: the report's folder)]" >&2
    exit 2
fi
docx=$1
if [ ! -f "$docx" ]; then
    echo "$0: error: REPORT.docx: no such file: $docx" >&2
    exit 2
fi
out_dir=${2:-$(dirname "$docx")}
mkdir -p "$out_dir"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-writer-nogui)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
# DejaVu carries every Vietnamese diacritic; without it pages show empty boxes.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} with apt"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# A private LibreOffice profile: no clash with a desktop session, no first-run dialogs.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
log "converting $docx to PDF"
soffice -env:UserInstallation="file://$profile" --headless --convert-to pdf --outdir "$out_dir" "$docx" >&2

pdf="$out_dir/$(basename "${docx%.*}").pdf"
if [ ! -s "$pdf" ]; then
    echo "$0: error: LibreOffice wrote no PDF for $docx (expected $pdf)" >&2
    exit 1
fi
log "rendering pages of $pdf to PNG"
pdftoppm -png -r 80 "$pdf" "${pdf%.pdf}-page"
log "done: $pdf and $(ls "${pdf%.pdf}"-page-*.png | wc -l) page images in $out_dir"
