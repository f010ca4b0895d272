// The scale case's dcmsafe side, in its own process: build the DICOMDIR of a folder of instances with
// dcmsafe's compiled library, as createMedia does (collect, scan each file's header, plan the File-set,
// encode the DICOMDIR), and write its bytes to OUT. Media writing is left out: dcmmkdir writes only the
// DICOMDIR too. Prints { seconds } of the work itself (after module loading), for the flatness check.
//
//   node dicomdir-child.mjs DIR OUT
import { writeFileSync } from 'node:fs';
import { encodeDicomdir } from '../../dist/dicom/dicomdir/encode.js';
import { planFileSet } from '../../dist/dicom/fileset/plan.js';
import { scanFiles } from '../../dist/dicom/fileset/scan.js';
import { collectInputs } from '../../dist/pipelines/inputs.js';
import { fileSetUID, profileFor } from '../../dist/pipelines/create-media.js';
import { systemClock } from '../../dist/util/clock.js';

const [dir, out] = process.argv.slice(2);
const start = process.hrtime.bigint();
const { files } = await collectInputs([dir], out);
const scans = await scanFiles(files);
const fileSetId = 'DCMSAFE';
const plan = planFileSet(scans, {
  profile: profileFor('folder', undefined, false),
  clock: systemClock,
  allowPatientMismatch: false,
  skipUnreadable: false,
  fileSetId,
  fileSetUID: fileSetUID(scans, { fileSetId, created: systemClock.now() }),
});
writeFileSync(out, encodeDicomdir(plan.fileSet));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
process.stdout.write(`${JSON.stringify({ seconds, instances: plan.instances.length })}\n`);
