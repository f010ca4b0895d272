"""Prints the patient -> study -> series -> instance tree of a DICOMDIR as pydicom's FileSet sees it.

Reference side of test/interop/dicomdir-decode.test.ts. Output (JSON on stdout): a list of patients
{"patientId", "studies": [{"studyInstanceUID", "series": [{"seriesInstanceUID", "instances":
[[record type, Referenced File ID components, Referenced SOP Instance UID in File]]}]}]}, in the
order pydicom lists the instances (the hierarchy order it builds by following the offsets).
Only public pydicom API: FileSet iteration, FileInstance.node, RecordNode.ancestors, .record_type and
.key (Patient ID, Study Instance UID, Series Instance UID for those record types).
"""
import json
import sys
import warnings

from pydicom import dcmread
from pydicom.fileset import FileSet


def components(file_id):
    if isinstance(file_id, str):
        return [file_id]
    return [str(c) for c in file_id]


def main(path):
    warnings.simplefilter("ignore")
    fs = FileSet(dcmread(path))
    patients = []
    index = {}
    for inst in fs:
        node = inst.node
        chain = list(reversed(node.ancestors))  # furthest first: PATIENT, STUDY, SERIES
        by_type = {a.record_type: a for a in chain}
        patient, study, series = by_type.get("PATIENT"), by_type.get("STUDY"), by_type.get("SERIES")
        if patient is None or study is None or series is None:
            raise SystemExit(f"instance {inst.path} is not under PATIENT/STUDY/SERIES")
        if id(patient) not in index:
            entry = {"patientId": str(patient.key), "studies": []}
            patients.append(entry)
            index[id(patient)] = entry
        if id(study) not in index:
            entry = {"studyInstanceUID": str(study.key), "series": []}
            index[id(patient)]["studies"].append(entry)
            index[id(study)] = entry
        if id(series) not in index:
            entry = {"seriesInstanceUID": str(series.key), "instances": []}
            index[id(study)]["series"].append(entry)
            index[id(series)] = entry
        index[id(series)]["instances"].append([
            node.record_type,
            components(inst.ReferencedFileID),
            str(inst.ReferencedSOPInstanceUIDInFile),
        ])
    json.dump(patients, sys.stdout, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
