"""Independent check of what a PACS received from `dcmsafe import`, with Debian's pydicom.

Usage: check_import.py RECEIVED_DIR SOURCE_DIR MAP.json
  RECEIVED_DIR  files as the receiver stored them (any names, any depth)
  SOURCE_DIR    the medium's plaintext files (dcmsafe verify --extract), the reference
  MAP.json      {"<foreign Patient ID>": {"patientId": ..., "issuer": ...}}
Prints one JSON document:
  received:  number of received instances;  unique: distinct SOP Instance UIDs among them
  pixelsCompared: received files whose pixel data were compared byte for byte with the source
  syntaxes:  counts of "source transfer syntax>received transfer syntax"
  missing:   source SOP Instance UIDs not received
  problems:  per received file, what is wrong (coercion not recorded, UIDs changed, pixels differ)
"""
import json, os, sys, warnings

warnings.simplefilter("ignore")
from pydicom import dcmread

received_dir, source_dir, map_file = sys.argv[1], sys.argv[2], sys.argv[3]
mapping = json.load(open(map_file))


def files(root):
    for d, _, names in os.walk(root):
        for n in names:
            if n.upper() in ("DICOMDIR", "README.TXT", "INDEX.HTM") or n.startswith("."):
                continue
            yield os.path.join(d, n)


def read(path):
    try:
        return dcmread(path)
    except Exception:
        return None


sources = {}
for f in files(source_dir):
    ds = read(f)
    if ds is not None and "SOPInstanceUID" in ds:
        sources[str(ds.SOPInstanceUID)] = f

problems, seen = [], []
syntaxes = {}
compared = 0
NATIVE_LE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"}
for f in files(received_dir):
    ds = read(f)
    if ds is None:
        problems.append({"file": f, "problem": "pydicom cannot read it"})
        continue
    uid = str(ds.SOPInstanceUID)
    seen.append(uid)
    if uid not in sources:
        problems.append({"file": f, "problem": "not on the medium"})
        continue
    src = dcmread(sources[uid])
    bad = []
    foreign = str(src.get("PatientID", ""))
    want = mapping.get(foreign)
    if want is None:
        bad.append(f"no mapping for foreign ID {foreign!r}")
    else:
        if str(ds.get("PatientID", "")) != want["patientId"]:
            bad.append(f"PatientID {ds.get('PatientID')!r}, expected {want['patientId']!r}")
        if str(ds.get("IssuerOfPatientID", "")) != want["issuer"]:
            bad.append(f"IssuerOfPatientID {ds.get('IssuerOfPatientID')!r}")
        others = [str(i.get("PatientID", "")) for i in ds.get("OtherPatientIDsSequence", [])]
        if foreign and foreign != want["patientId"] and foreign not in others:
            bad.append(f"foreign ID {foreign!r} not in OtherPatientIDsSequence {others}")
        items = ds.get("OriginalAttributesSequence", [])
        last = items[-1] if items else None
        if foreign != want["patientId"]:
            if last is None:
                bad.append("no OriginalAttributesSequence item")
            else:
                if last.get("ReasonForTheAttributeModification") != "COERCE":
                    bad.append(f"reason {last.get('ReasonForTheAttributeModification')!r}")
                if not str(last.get("ModifyingSystem", "")).startswith("dcmsafe"):
                    bad.append(f"ModifyingSystem {last.get('ModifyingSystem')!r}")
                if not last.get("AttributeModificationDateTime"):
                    bad.append("no AttributeModificationDateTime")
                mod = last.get("ModifiedAttributesSequence", [])
                if not mod or str(mod[0].get("PatientID", "")) != foreign:
                    bad.append("ModifiedAttributesSequence lacks the prior Patient ID")
            if not ds.get("InstanceCoercionDateTime"):
                bad.append("no InstanceCoercionDateTime")
    for kw in ("SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID"):
        if str(ds.get(kw, "")) != str(src.get(kw, "")):
            bad.append(f"{kw} changed")
    pair = f"{src.file_meta.TransferSyntaxUID}>{ds.file_meta.TransferSyntaxUID}"
    syntaxes[pair] = syntaxes.get(pair, 0) + 1
    if "PixelData" in src:
        if "PixelData" not in ds:
            bad.append("pixel data lost")
        else:
            a, b = str(src.file_meta.TransferSyntaxUID), str(ds.file_meta.TransferSyntaxUID)
            # Same syntax, or native little endian both (implicit and deflated sources arrive as explicit VR LE).
            if a == b or (a in NATIVE_LE and b in NATIVE_LE):
                compared += 1
                got, want = bytes(ds.PixelData), bytes(src.PixelData)
                # An odd-length value arrives with the NUL pad byte PS3.5 7.1.1 requires.
                if got != want and not (len(want) % 2 == 1 and got == want + b"\x00"):
                    bad.append("pixel data differ")
    if bad:
        problems.append({"file": f, "sop": uid, "problems": bad})

print(json.dumps({
    "received": len(seen),
    "unique": len(set(seen)),
    "sources": len(sources),
    "missing": sorted(set(sources) - set(seen)),
    "pixelsCompared": compared,
    "syntaxes": syntaxes,
    "problems": problems,
}))
