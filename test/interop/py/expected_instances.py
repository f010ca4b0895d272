"""The distinct SOP instances a File-set built from some inputs must hold, found with pydicom.

Usage: expected_instances.py PATH...   (files or folders)
An instance counts if pydicom reads it and it has a SOP Class and Instance UID (data set or File
Meta), is not a DICOMDIR, and either has Study and Series Instance UIDs or is a root-level object
(colour palette, hanging protocol, implant template).
"""
import json, os, sys, warnings

warnings.simplefilter("ignore")
from pydicom import dcmread

ROOT_LEVEL = {"1.2.840.10008.5.1.4.38.1", "1.2.840.10008.5.1.4.39.1", "1.2.840.10008.5.1.4.43.1", "1.2.840.10008.5.1.4.44.1", "1.2.840.10008.5.1.4.45.1"}
found = set()
paths = []
for p in sys.argv[1:]:
    if os.path.isdir(p):
        for root, _, names in os.walk(p):
            paths += [os.path.join(root, n) for n in names]
    else:
        paths.append(p)
for path in paths:
    try:
        ds = dcmread(path, stop_before_pixels=True, force=True)
    except Exception:
        continue
    meta = getattr(ds, "file_meta", None)
    sop = ds.get("SOPInstanceUID") or (meta.get("MediaStorageSOPInstanceUID") if meta else None)
    cls = ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta else None)
    if not sop or not cls or str(cls) == "1.2.840.10008.1.3.10":
        continue
    if str(cls) not in ROOT_LEVEL and not (ds.get("StudyInstanceUID") and ds.get("SeriesInstanceUID")):
        continue
    found.add(str(sop).strip())
print(json.dumps(sorted(found)))
