#!/usr/bin/env bash
# The tamper campaign in CI (issue 11): builds a small secure CD image (signed, encrypted for a
# certificate) and a small Annex C-signed plain ZIP from the built-in samples, with a demo PKI made
# on the fly (nothing secret is committed), then runs TRIALS trials on each with a fixed seed.
# Exits non-zero when verify calls any changed medium trusted, or crashes.
# Usage: scripts/tamper-ci.sh [TRIALS] [SEED]   (default 500, 1); needs `npm run build` first.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS="${1:-500}"
SEED="${2:-1}"
CLI=(node dist/cli/main.js)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dcmsafe-tamper-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"${CLI[@]}" pki demo --out "$WORK/pki" >/dev/null
"${CLI[@]}" samples --out "$WORK/samples" >/dev/null
mkdir "$WORK/in"
# A small medium: two patients, four instances (CT, SR, MR), so a trial costs milliseconds.
for f in patient-a/ct/CT0001.dcm patient-a/ct/CT0002.dcm patient-a/ct/SR0001.dcm patient-b/mr/MR0001.dcm; do
  cp "$WORK/samples/$f" "$WORK/in/$(basename "$f")"
done
SIGN=(--sign-cert "$WORK/pki/media-signer.pem" --sign-key "$WORK/pki/media-signer.key")
TRUST=(--trust "$WORK/pki/demo-root-ca.pem")
"${CLI[@]}" create "$WORK/in" --media cd --out "$WORK/secure.iso" "${SIGN[@]}" --recipient "$WORK/pki/media-recipient.pem" >/dev/null
"${CLI[@]}" create "$WORK/in" --media zip --out "$WORK/annex-c.zip" --dicom-signature "${SIGN[@]}" >/dev/null
status=0
node dist/tamper/main.js --media "$WORK/secure.iso" --trials "$TRIALS" --seed "$SEED" "${TRUST[@]}" \
  --key "$WORK/pki/media-recipient.key" --cert "$WORK/pki/media-recipient.pem" || status=1
node dist/tamper/main.js --media "$WORK/annex-c.zip" --trials "$TRIALS" --seed "$SEED" "${TRUST[@]}" || status=1
exit $status
