"""Independent checks of de-identified media (PS3.15 Annex E) with Debian's pydicom.

Usage: check_deidentified.py [--uids-only] ORIGINALS.json TARGET...
ORIGINALS.json lists the input files the media were made from. Each TARGET is a file (every file of a
media folder, or a whole disc image) whose every byte is searched, except the value of the top-level
Pixel Data of DICOM files: de-identification passes pixels through (burned-in text is refused or
accepted separately), and decoded pixels contain runs like "11111111" by coincidence.
--uids-only searches for the UIDs only (for a whole disc image, pixel data included: UIDs are long
enough never to occur by chance).

What counts as an identifier (the rest would match by chance, or is not identifying):
- every UID of the inputs, except those naming public things (SOP classes, transfer syntaxes, coding
  schemes) and the DICOM root 1.2.840.10008;
- patient names whole (4 characters or more) and their components (5 or more, and not generic words
  such as PATIENT or TEST), patient IDs, birth dates, accession numbers and institution names (4 or
  more characters, at least 3 different ones; digits only: 7 or more, as shorter digit runs occur in
  numbers such as Pixel Spacing "1.201199999999", and only as a whole number, not inside the digits
  of a longer one such as a new 2.25 UID), except institution names that are part of a
  Manufacturer (0008,0070) of the inputs (Manufacturer is not in Table E.1-1: it is kept). Values we
  write ourselves (ANONYMIZED, the dummy date and time, the enumerated values of (0028,0303)) are
  not searched for.

Prints one JSON document:
  identifiers: how many original identifying values were collected, by kind
  leaks:       [{file, kind, value}] original values found in a target (raw bytes, latin-1 or UTF-8 text)
  unreadable:  [{file, error}] targets that look like DICOM (DICM at 128) but pydicom cannot read
"""
import json, re, sys, warnings

warnings.simplefilter("ignore")
from pydicom import dcmread
from pydicom.dataelem import DataElement

args = sys.argv[1:]
uids_only = args[0] == "--uids-only"
if uids_only:
    args = args[1:]
originals_json, targets = args[0], args[1:]
inputs = json.load(open(originals_json))

# UI attributes whose values name public things (SOP classes, transfer syntaxes, coding schemes,
# templates and registries), not an instance: they are the same on any de-identified copy.
PUBLIC_UID_TAGS = {
    0x00020002, 0x00020010, 0x00041510, 0x00041512, 0x0004151A, 0x00080016, 0x0008001A, 0x00081150,
    0x0008010C, 0x0008010D, 0x00080118, 0x00189445, 0x0040A0A0,
}
# Values we write ourselves as dummies, and values too short to mean anything on their own.
IGNORED = {"ANONYMIZED", "19000101", "000000", "REMOVED", "MODIFIED", "UNMODIFIED"}
GENERIC = {"PATIENT", "PATIENTS", "TEST", "FIRST", "LAST", "MIDDLE", "NAME", "ANONYMOUS", "ANONYMIZED", "REMOVED", "UNKNOWN"}
MIN_LENGTH = 4
manufacturers = set()

found = {}  # (kind, value) -> bytes variants


def distinctive(kind, text):
    if kind == "UID":
        return len(text) >= 8
    if uids_only or len(text) < MIN_LENGTH or text.upper() in IGNORED or len(set(text)) < 3:
        return False
    if text.isdigit() and len(text) < 7:
        return False
    if "component" in kind and (len(text) < 5 or text.upper() in GENERIC):
        return False
    if kind == "institution" and any(text in m for m in manufacturers):
        return False
    return True


def add(kind, value):
    if isinstance(value, bytes):
        if not distinctive(kind, value.rstrip(b"\x00 ").decode("latin1")):
            return
        raw = value.rstrip(b"\x00 ")
        if len(raw) >= MIN_LENGTH and raw.decode("latin1") not in IGNORED:
            found.setdefault((kind, raw.decode("latin1")), set()).add(raw)
        return
    text = str(value).strip().rstrip("\x00")
    if not distinctive(kind, text):
        return
    variants = found.setdefault((kind, text), set())
    for enc in ("utf-8", "latin-1"):
        try:
            variants.add(text.encode(enc))
        except UnicodeEncodeError:
            pass


def person_name(kind, elem):
    raw = elem.value
    values = raw if elem.VM > 1 else [raw]
    for v in values:
        if v is None:
            continue
        s = str(v)
        add(kind, s)
        for part in s.replace("=", "^").replace(",", "^").split("^"):
            for word in part.split():
                add(kind + " component", word)


def walk(ds, meta=None):
    if meta is not None:
        for elem in meta:
            if elem.VR == "UI" and elem.tag not in PUBLIC_UID_TAGS and elem.value:
                add("UID", str(elem.value))
    for elem in ds:
        tag = int(elem.tag)
        if elem.VR == "SQ":
            for item in elem.value:
                walk(item)
            continue
        if elem.tag.is_private:
            continue
        try:
            value = elem.value
        except Exception:
            continue
        if tag == 0x00100010:
            person_name("patient name", elem)
            raw = getattr(elem, "_raw_bytes", None)
        elif tag == 0x00100020:
            add("patient ID", value)
        elif tag == 0x00100030:
            add("birth date", value)
        elif tag == 0x00080050:
            add("accession number", value)
        elif tag == 0x00080080:
            add("institution", value)
        elif elem.VR == "UI" and tag not in PUBLIC_UID_TAGS and value:
            for v in (value if elem.VM > 1 else [value]):
                if v and not str(v).startswith("1.2.840.10008."):
                    add("UID", str(v))


def raw_names(path):
    """Patient's Name bytes as written, for character sets pydicom decodes differently from UTF-8."""
    ds = dcmread(path, force=True, stop_before_pixels=True)
    elem = ds.get((0x0010, 0x0010))
    if elem is not None:
        raw = ds.get_item((0x0010, 0x0010))
        if raw is not None and getattr(raw, "value", None):
            value = raw.value if isinstance(raw.value, bytes) else None
            if value:
                add("patient name (bytes)", value)
                for part in value.replace(b"=", b"^").split(b"^"):
                    add("patient name component (bytes)", part)


for path in inputs:
    try:
        m = dcmread(path, force=True, stop_before_pixels=True).get((0x0008, 0x0070))
        if m is not None and m.value:
            manufacturers.add(str(m.value).strip())
    except Exception:
        pass
for path in inputs:
    try:
        ds = dcmread(path, force=True, stop_before_pixels=True)
        walk(ds, getattr(ds, "file_meta", None))
        raw_names(path)
    except Exception:
        pass

leaks, unreadable = [], []
for target in targets:
    data = open(target, "rb").read()
    if not uids_only and len(data) > 132 and data[128:132] == b"DICM":
        # The top-level Pixel Data value (the last Pixel Data header in the file) is left out.
        at = max(data.rfind(b"\xe0\x7f\x10\x00OB\x00\x00"), data.rfind(b"\xe0\x7f\x10\x00OW\x00\x00"))
        if at >= 0:
            length = int.from_bytes(data[at + 8 : at + 12], "little")
            end = len(data) if length == 0xFFFFFFFF else at + 12 + length
            data = data[: at + 12] + data[end:]
    texts = [data.decode("latin1"), data.decode("utf-8", errors="replace")]
    for (kind, value), variants in found.items():
        if value.isdigit():
            # A number only as a whole: the digits of a new 2.25 UID contain any short number somewhere.
            pattern = re.compile(rb"(?<![0-9])" + re.escape(value.encode()) + rb"(?![0-9])")
            hit = pattern.search(data) is not None
        else:
            hit = any(v in data for v in variants) or any(value in t for t in texts)
        if hit:
            leaks.append({"file": target, "kind": kind, "value": value})
    if len(data) > 132 and data[128:132] == b"DICM":
        try:
            dcmread(target)
        except Exception as e:
            unreadable.append({"file": target, "error": str(e)})

kinds = {}
for kind, _ in found:
    kinds[kind] = kinds.get(kind, 0) + 1
print(json.dumps({"identifiers": kinds, "leaks": leaks, "unreadable": unreadable}))
