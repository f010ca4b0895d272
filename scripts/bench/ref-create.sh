#!/usr/bin/env bash
# The reference for `dcmsafe create --media dvd` with signing and encryption: what a careful engineer
# would script with standard tools. Copy the inputs to a staging tree, build the DICOMDIR with dcmtk
# dcmmkdir (General Purpose profile), sign then encrypt every file (DICOMDIR included) with openssl cms
# into an output tree of the same names, in parallel on every core (xargs -P nproc), then master the
# ISO 9660 image with xorriso. Timed as a whole by the bench.
#
#   ref-create.sh IN STAGE OUTTREE REF.iso PKI
set -euo pipefail
in=$(realpath -m "$1") stage=$(realpath -m "$2") out=$(realpath -m "$3") iso=$(realpath -m "$4")
export PKI=$(realpath -m "$5") OUT=$out
cp -r "$in" "$stage"
(cd "$stage" && dcmmkdir -q +id . +D DICOMDIR +r -Pgp)

protect() {
  set -euo pipefail
  for f in "$@"; do
    openssl cms -sign -binary -nodetach -outform DER -md sha256 -signer "$PKI/media-signer.pem" -inkey "$PKI/media-signer.key" -in "$f" |
      openssl cms -encrypt -binary -outform DER -aes256 -recip "$PKI/media-recipient.pem" -out "$OUT/$f"
  done
}
export -f protect

cd "$stage"
find . -type d | (mkdir -p "$out" && cd "$out" && xargs mkdir -p)
find . -type f -print0 | xargs -0 -P "$(nproc)" -n 16 bash -c 'protect "$@"' _
xorriso -as mkisofs -quiet -V DCMREF -o "$iso" "$out"
