"""Independent checks of a File-set written by dcmsafe, with Debian's pydicom (2.3.1).

Usage: check_fileset.py OUTDIR FILES.json
FILES.json lists {"fileId", "input", "kind"} for every instance dcmsafe wrote.
Prints one JSON document:
  instances:   SOP Instance UIDs pydicom's FileSet finds
  mismatches:  records whose keys disagree with the file they reference
  pixels:      per converted file, how its pixel data compares with an independent decoding of the input
"""
import hashlib, json, os, subprocess, sys, tempfile, warnings

warnings.simplefilter("ignore")
import numpy as np
from pydicom import dcmread
from pydicom.uid import UID
from pydicom.fileset import FileSet

out_dir, files_json = sys.argv[1], sys.argv[2]
entries = json.load(open(files_json))

fs = FileSet(dcmread(os.path.join(out_dir, "DICOMDIR")))
instances, mismatches = [], []


def uid(ds, name):
    v = ds.get(name)
    if v is None and hasattr(ds, "file_meta"):
        v = ds.file_meta.get("MediaStorage" + name)
    return None if v is None else str(v)


for inst in fs:
    ds = inst.load()
    rec = inst.node._record
    instances.append(str(rec.ReferencedSOPInstanceUIDInFile))
    checks = [
        ("SOPInstanceUID", uid(ds, "SOPInstanceUID"), str(rec.ReferencedSOPInstanceUIDInFile)),
        ("SOPClassUID", uid(ds, "SOPClassUID"), str(rec.ReferencedSOPClassUIDInFile)),
        ("TransferSyntaxUID", str(ds.file_meta.TransferSyntaxUID), str(rec.ReferencedTransferSyntaxUIDInFile)),
    ]
    # Walk up the record tree: series, study, patient keys must agree with the file where it has them.
    node = inst.node.parent
    while node is not None and hasattr(node, "_record") and node._record is not None:
        r = node._record
        kind = r.DirectoryRecordType
        if kind == "SERIES":
            checks.append(("SeriesInstanceUID", str(ds.get("SeriesInstanceUID")), str(r.SeriesInstanceUID)))
        elif kind == "STUDY":
            checks.append(("StudyInstanceUID", str(ds.get("StudyInstanceUID")), str(r.get("StudyInstanceUID"))))
        elif kind == "PATIENT":
            if ds.get("PatientID"):
                checks.append(("PatientID", str(ds.PatientID), str(r.PatientID)))
            if ds.get("PatientName") is not None:
                # PN values with only empty components ("^^^^") equal the empty value.
                pn = lambda v: "=".join(g.rstrip("^ ") for g in str(v or "").split("=")).rstrip("=")
                checks.append(("PatientName", pn(ds.PatientName), pn(r.get("PatientName"))))
        node = node.parent
    for name, in_file, in_record in checks:
        if in_file != in_record:
            mismatches.append({"path": inst.path, "key": name, "file": in_file, "record": in_record})


def pixel_bytes(path):
    ds = dcmread(path)
    return ds, bytes(ds.PixelData) if "PixelData" in ds else None


def reference_pixels(path, ts):
    """The input's pixels decoded by a tool nobody here wrote, or (None, reason)."""
    ds = dcmread(path, force=True)
    if not UID(ts).is_compressed:
        if "PixelData" not in ds:
            return None, "no pixel data"
        if ts == "1.2.840.10008.1.2.2":
            # dcmtk and gdcm swap OW words even for 8-bit pixels (PS3.5 §8.1.1); pydicom does not.
            with tempfile.TemporaryDirectory() as tmp:
                target = os.path.join(tmp, "le.dcm")
                subprocess.run(["dcmconv", "+te", path, target], check=True, capture_output=True)
                return bytes(dcmread(target).PixelData), "dcmconv +te"
        return bytes(ds.PixelData), "pydicom"
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "out.dcm")
        tools = {
            "1.2.840.10008.1.2.5": [["dcmdrle", path, target]],
            "1.2.840.10008.1.2.4.80": [["dcmdjpls", path, target]],
            "1.2.840.10008.1.2.4.81": [["dcmdjpls", path, target]],
        }
        if ts in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"):
            cmds = [["dcmdjpeg", path, target]]
        else:
            cmds = tools.get(ts, [["gdcmconv", "--raw", path, target]])
        for cmd in cmds:
            r = subprocess.run(cmd, capture_output=True)
            if r.returncode == 0 and os.path.exists(target):
                ref = dcmread(target)
                return bytes(ref.PixelData), cmd[0]
        return None, "no tool could decode the input"


pixels = []
for e in entries:
    if e["kind"] == "copy":
        continue
    out_path = os.path.join(out_dir, *e["fileId"].split("\\"))
    out_ds, out_px = pixel_bytes(out_path)
    ts = e["inputTransferSyntaxUID"]
    ref, how = reference_pixels(e["input"], ts)
    result = {"input": e["input"], "kind": e["kind"], "oracle": how}
    if ref is None:
        result["status"] = "no-reference" if out_px is None else "no-oracle"
    elif isinstance(ref, np.ndarray):
        result["status"] = "equal" if np.array_equal(ref, out_ds.pixel_array) else "different"
    else:
        n = min(len(ref), len(out_px))
        same_len = abs(len(ref) - len(out_px)) <= 1
        a = np.frombuffer(ref[:n], dtype=np.uint8).astype(np.int32)
        b = np.frombuffer(out_px[:n], dtype=np.uint8).astype(np.int32)
        result["status"] = "equal" if same_len and np.array_equal(a, b) else "different"
        if result["status"] == "different":
            result["detail"] = {"ref_len": len(ref), "out_len": len(out_px), "bytes_differing": int(np.count_nonzero(a != b))}
    pixels.append(result)

print(json.dumps({"instances": instances, "mismatches": mismatches, "pixels": pixels}))
