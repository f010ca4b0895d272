#!/usr/bin/env bash
# Installs the reference tools the tests check dcmsafe against (Debian/Ubuntu, as root).
# They are independent oracles: nobody here wrote them. See ../shared/docs/toolchain.md.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (sudo $0)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
packages=(
  dcmtk              # dcmdump, dcmmkdir, dcmdjpeg/dcmdjpls/dcmdrle, storescp/storescu, dcmsign
  dicom3tools        # dciodvfy, dcdirdmp
  python3-pydicom    # FileSet (Debian's pydicom 2.3.1, in /usr/bin/python3)
  python3-numpy      # pixel arrays for pydicom
  libgdcm-tools      # gdcmconv: a second decoder for JPEG 2000
  libopenjp2-tools   # opj_decompress: the HTJ2K oracle
  openssl            # openssl cms
  xorriso genisoimage udftools   # ISO 9660 / UDF readers and writers
  mtools dosfstools  # FAT images
  p7zip-full unzip zip  # archives
  libxml2-utils      # xmllint: INDEX.HTM is well-formed XHTML; audit messages validate
  orthanc curl       # a PACS with DICOM TLS, for import tests, and its REST API on loopback
  iproute2 util-linux  # network namespaces (ip, unshare) for servers in tests
  time               # /usr/bin/time: peak memory of the import bench's processes
  rsyslog rsyslog-gnutls  # an audit repository: syslog over TLS (RFC 5425), for audit tests
  trang              # converts the DICOM audit message schema (RELAX NG compact) for xmllint
  tmux               # a real terminal for the front-desk UI end-to-end test (send-keys, capture-pane)
)
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "reference tools installed: ${packages[*]}"
