#!/usr/bin/env bash
# The reference for `dcmsafe verify` of a signed and encrypted medium: extract the ISO with 7z, then
# for every Secure DICOM File (DICOMDIR and DICOM/...) decrypt with openssl cms and verify the
# signature against the demo root CA, in parallel on every core (xargs -P nproc). Prints "ok FILE"
# per verified file; any failure says which file and ends the script non-zero (the bench fails loudly).
#
# openssl cms -decrypt outputs the encrypted content as it is: in a Secure DICOM File that is a bare
# SignedData (EnvelopedData's content type is id-signedData, RFC 5652 §6.1), not a ContentInfo, and
# openssl cms -verify only reads ContentInfo. So the script wraps it: 30 len { 06 09 id-signedData,
# a0 len { SignedData } }, with the DER lengths computed in bash. The signer certificate has no
# S/MIME extended key usage, hence -purpose any.
#
#   ref-verify.sh MEDIUM.iso XDIR PKI
set -euo pipefail
iso=$(realpath -m "$1") x=$(realpath -m "$2")
export PKI=$(realpath -m "$3")
7z x -bd -o"$x" "$iso" >/dev/null

check() {
  set -euo pipefail
  # DER length octets of $1 as a printf %b string (\x81\xNN...); its octet count is its number of backslashes.
  derlen() {
    local n=$1
    if ((n < 128)); then printf '\\x%02x' "$n"
    elif ((n < 256)); then printf '\\x81\\x%02x' "$n"
    elif ((n < 65536)); then printf '\\x82\\x%02x\\x%02x' $((n >> 8)) $((n & 255))
    elif ((n < 16777216)); then printf '\\x83\\x%02x\\x%02x\\x%02x' $((n >> 16)) $(((n >> 8) & 255)) $((n & 255))
    else printf '\\x84\\x%02x\\x%02x\\x%02x\\x%02x' $((n >> 24)) $(((n >> 16) & 255)) $(((n >> 8) & 255)) $((n & 255)); fi
  }
  local tmp n inner octets outer
  tmp=$(mktemp)
  for f in "$@"; do
    openssl cms -decrypt -inform DER -binary -recip "$PKI/media-recipient.pem" -inkey "$PKI/media-recipient.key" -in "$f" -out "$tmp"
    n=$(stat -c %s "$tmp")
    inner=$(derlen "$n")
    octets=$(printf '%s' "$inner" | tr -cd '\\' | wc -c)
    outer=$(derlen $((11 + 1 + octets + n))) # OID (11 octets), then a0, its length octets, SignedData
    { printf '%b' "\\x30$outer\\x06\\x09\\x2a\\x86\\x48\\x86\\xf7\\x0d\\x01\\x07\\x02\\xa0$inner"; cat "$tmp"; } |
      openssl cms -verify -inform DER -binary -CAfile "$PKI/demo-root-ca.pem" -purpose any -out /dev/null 2>"$tmp.err" ||
      { echo "ref-verify: $f does not verify: $(cat "$tmp.err")" >&2; exit 1; }
    echo "ok $f"
  done
  rm -f "$tmp" "$tmp.err"
}
export -f check

cd "$x"
{ echo DICOMDIR; find DICOM -type f; } | xargs -P "$(nproc)" -n 16 bash -c 'check "$@"' _
