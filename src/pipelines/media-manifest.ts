/**
 * The signed media manifest, MANIFEST.P7M in the root of signed media: a CMS SignedData (RFC 5652
 * §5, DER, the same signer and signed attributes as the Secure DICOM Files) whose content lists every
 * other file of the medium with its size and SHA-256. A DICOM signature cannot cover everything on a
 * medium: README, README.TXT and INDEX.HTM are not DICOM; an Annex C signature leaves out the
 * preamble, the File Meta Information and the DICOMDIR. The manifest covers them, and fixes the file
 * list, so a file added, removed, renamed or changed anywhere on the medium is seen by verify.
 *
 * Content (US-ASCII lines): `dcmsafe media manifest 1`, then one `SHA256 SIZE PATH` line per file,
 * PATH the File ID components joined by "/". Its size is known before any file is written (hashes
 * are fixed width); the hashes are taken as the writer streams each file, so the manifest must be
 * the last file a writer emits (every writer emits files in list order); asked for earlier it fails
 * (INTERNAL) rather than list a wrong hash.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { DcmsafeError } from '../errors/index.js';
import type { DicomSigner } from '../dicom/signature/sign.js';
import type { MediaFile } from '../media/media-file.js';
import { encodeAround, explicit, oid, sequence } from '../security/asn1/der.js';
import { DIGESTS, OID, type DigestName } from '../security/cms/algorithms.js';
import { readCertificate } from '../security/cms/certificate.js';
import { modulusBytes } from '../security/cms/rsa.js';
import { signAttributes, signedAttributes, signedDataTree, type PreparedSigner } from '../security/cms/signed-data.js';
import { openSignedData, type OpenedSignedData } from '../security/cms/signed-data-reader.js';
import type { Signer } from '../security/cms/writer.js';
import type { Clock } from '../util/clock.js';

export const MANIFEST_NAME = 'MANIFEST.P7M';
const HEADER = 'dcmsafe media manifest 1';

export interface ManifestEntry {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** Who signs the manifest: the media signer, or the DICOM signature's signer on plain media. */
export function manifestSigner(security: { signer?: Signer } | undefined, dicomSignature: DicomSigner | undefined): Signer | undefined {
  if (security?.signer) return security.signer;
  if (!dicomSignature) return undefined;
  const digest = dicomSignature.algorithm.toLowerCase() as DigestName;
  return { certificate: dicomSignature.certificate, chain: [], privateKey: dicomSignature.privateKey, digest: digest in DIGESTS ? digest : 'sha256' };
}

function prepare(s: Signer): PreparedSigner {
  const certificates: Buffer[] = [];
  for (const c of [s.certificate, ...s.chain]) if (!certificates.some((x) => x.equals(c))) certificates.push(Buffer.from(c));
  return { cert: readCertificate(s.certificate, 'signer certificate'), certificates, privateKey: s.privateKey as KeyObject, digest: DIGESTS[s.digest], signatureLength: modulusBytes(s.privateKey) };
}

function contentInfo(inner: ReturnType<typeof signedDataTree>): ReturnType<typeof sequence> {
  return sequence(oid(OID.signedData), explicit(0, inner));
}

/**
 * The medium's files with MANIFEST.P7M appended: each file hashed as it is emitted, the manifest
 * signed when the writer reaches it (last).
 */
export function withManifest(files: readonly MediaFile[], signer: Signer, clock: Clock): MediaFile[] {
  const prepared = prepare(signer);
  const signingTime = clock.now();
  const hashes = new Map<MediaFile, string>();
  const hashed = files.map((f): MediaFile => {
    const file: MediaFile = {
      path: f.path,
      size: f.size,
      open: async () => {
        const opened = await f.open();
        // A producer that hashed the content already (a worker thread) saves this thread the work.
        const hash = opened.sha256 ? undefined : createHash('sha256');
        return {
          stream: (async function* () {
            for await (const chunk of opened.stream) {
              hash?.update(chunk);
              yield chunk;
            }
            const sha256 = hash ? hash.digest('hex') : opened.sha256?.();
            if (sha256 === undefined) throw new DcmsafeError('INTERNAL', `${f.path.join('/')}: its producer gave no SHA-256 for the manifest`);
            hashes.set(file, sha256);
          })(),
          close: () => opened.close(),
        };
      },
    };
    return file;
  });
  const line = (f: MediaFile, sha: string): string => `${sha} ${f.size} ${f.path.join('/')}\n`;
  const contentLength = Buffer.byteLength(`${HEADER}\n`) + hashed.reduce((n, f) => n + Buffer.byteLength(line(f, '0'.repeat(64))), 0);
  const placeholder = encodeAround(contentInfo(signedDataTree(contentLength, prepared, signingTime, Buffer.alloc(prepared.digest.length), Buffer.alloc(prepared.signatureLength))));
  const size = placeholder.before.length + contentLength + placeholder.after.length;
  const manifest: MediaFile = {
    path: [MANIFEST_NAME],
    size,
    emitLast: true,
    open: () => {
      const missing = hashed.filter((f) => !hashes.has(f));
      if (missing.length > 0) throw new DcmsafeError('INTERNAL', `${MANIFEST_NAME} was asked for before ${missing.length} file(s) were written, e.g. ${missing[0]?.path.join('/')}`);
      const content = Buffer.from(`${HEADER}\n${hashed.map((f) => line(f, hashes.get(f) as string)).join('')}`, 'latin1');
      const digest = createHash(prepared.digest.name).update(content).digest();
      const signature = signAttributes(prepared, signedAttributes(prepared, signingTime, digest));
      const around = encodeAround(contentInfo(signedDataTree(contentLength, prepared, signingTime, digest, signature)));
      const bytes = Buffer.concat([around.before, content, around.after]);
      if (bytes.length !== size) throw new DcmsafeError('INTERNAL', `${MANIFEST_NAME} has ${bytes.length} bytes, ${size} were planned`);
      return Promise.resolve({
        stream: (async function* () {
          yield bytes;
        })(),
        close: () => Promise.resolve(),
      });
    },
  };
  return [...hashed, manifest];
}

export interface ReadManifest {
  readonly signed: OpenedSignedData;
  readonly entries: ReadonlyMap<string, ManifestEntry>;
}

/** Parses and checks the signature of a manifest (trust is judged by the caller). Throws CMS_MALFORMED. */
export function readManifest(bytes: Buffer, file: string): ReadManifest {
  const signed = openSignedData(bytes, file);
  const lines = signed.content.toString('latin1').split('\n');
  if (lines[0] !== HEADER || lines[lines.length - 1] !== '') throw new DcmsafeError('CMS_MALFORMED', `${file}: not a dcmsafe media manifest`, { file });
  const entries = new Map<string, ManifestEntry>();
  for (const l of lines.slice(1, -1)) {
    const m = /^([0-9a-f]{64}) (\d{1,15}) (\S.*)$/.exec(l);
    if (!m || entries.has(m[3] as string)) throw new DcmsafeError('CMS_MALFORMED', `${file}: bad manifest line ${JSON.stringify(l.slice(0, 80))}`, { file });
    entries.set(m[3] as string, { path: m[3] as string, size: Number(m[2]), sha256: m[1] as string });
  }
  return { signed, entries };
}
