/**
 * From the create command's de-identification flags to a DeidentifyRequest (PS3.15 E.2, E.3):
 * option names checked, the two date options refused together (E.3.6), the certificate of
 * --keep-originals-for read and checked.
 */
import { readFile } from 'node:fs/promises';
import { OPTION_NAMES, type OptionKey } from '../dicom/deidentify/actions.js';
import { checkOptions } from '../dicom/deidentify/deidentify.js';
import { DcmsafeError } from '../errors/index.js';
import type { DeidentifyRequest } from '../pipelines/deidentify-inputs.js';
import { describeCertificate, loadCertificates } from '../security/pki/certificates.js';

export interface DeidentifyFlags {
  deidentify?: boolean;
  option?: string[];
  keepOriginalsFor?: string;
  acceptBurnedIn?: boolean;
}

export async function resolveDeidentify(flags: DeidentifyFlags): Promise<DeidentifyRequest | undefined> {
  const options = flags.option ?? [];
  if (!flags.deidentify) {
    const stray = options.length > 0 ? '--option' : flags.keepOriginalsFor ? '--keep-originals-for' : flags.acceptBurnedIn ? '--accept-burned-in' : undefined;
    if (stray) throw new DcmsafeError('USAGE', `${stray} needs --deidentify`, {});
    return undefined;
  }
  const keys = new Set<OptionKey>();
  for (const name of options) {
    const key = OPTION_NAMES[name];
    if (!key) throw new DcmsafeError('USAGE', `unknown de-identification option "${name}" (one of ${Object.keys(OPTION_NAMES).join(', ')})`, { option: name });
    keys.add(key);
  }
  checkOptions(keys);
  let keepOriginalsFor: DeidentifyRequest['keepOriginalsFor'];
  if (flags.keepOriginalsFor) {
    let bytes: Buffer;
    try {
      bytes = await readFile(flags.keepOriginalsFor);
    } catch (e) {
      throw new DcmsafeError('INPUT_NOT_FOUND', `certificate ${flags.keepOriginalsFor} cannot be read`, { file: flags.keepOriginalsFor }, { cause: e });
    }
    const certificate = loadCertificates(bytes)[0];
    if (!certificate) throw new DcmsafeError('CERT_UNREADABLE', `${flags.keepOriginalsFor} holds no certificate`, { file: flags.keepOriginalsFor });
    keepOriginalsFor = { certificate, subject: describeCertificate(certificate).subject };
  }
  return { options: keys, ...(keepOriginalsFor ? { keepOriginalsFor } : {}), acceptBurnedIn: flags.acceptBurnedIn === true };
}
