"""References between instances (PS3.3 C.11.11, C.8.20.2...): which Referenced SOP Instance UIDs
resolve to an instance of the same set, with pydicom.

Usage: check_references.py FILE...
Prints one JSON document: {"instances": n, "resolved": [[referrer modality, referrer SOP Instance UID,
referenced modality, referenced SOP Instance UID]]}: every reference, anywhere in a data set
(sequences included), to another instance among FILE.
"""
import json, sys, warnings

warnings.simplefilter("ignore")
from pydicom import dcmread

sops, refs = {}, []


def walk(ds, found):
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                walk(item, found)
        elif elem.tag == (0x0008, 0x1155) and elem.value:
            found.extend(str(v) for v in (elem.value if elem.VM > 1 else [elem.value]))


for path in sys.argv[1:]:
    try:
        ds = dcmread(path, stop_before_pixels=True)
    except Exception:
        continue
    if "SOPInstanceUID" not in ds:
        continue
    sop = str(ds.SOPInstanceUID)
    sops[sop] = str(ds.get("Modality", ""))
    found = []
    walk(ds, found)
    refs.extend((sop, r) for r in found)

resolved = [[sops[a], a, sops[b], b] for a, b in refs if b in sops and b != a]
print(json.dumps({"instances": len(sops), "resolved": sorted(set(map(tuple, resolved)))}))
