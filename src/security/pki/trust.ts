/**
 * Trust in a signer of a Secure DICOM File (PS3.15 D.1 data-origin authentication): certification
 * path building and validation after RFC 5280 §6 (simplified, see below) with revocation by CRLs
 * (RFC 5280 §5, §6.3), and a trust store of anchors read from PEM bundles and folders.
 *
 * Path building: from the signer through the certificates carried in the file to a trust anchor,
 * matching issuer to subject (RFC 5280 §7.1 comparison) and authority to subject key identifier,
 * verifying every certificate signature on the way; at most MAX_PATH_LENGTH certificates per path
 * and MAX_BUILD_STEPS candidates tried in all, and no certificate twice in a path, so loops and
 * absurd chains end. When several paths exist the best one is kept.
 *
 * Checks on the path:
 * - every certificate (anchor included) is valid at the signing time, when given, and now;
 * - every issuing certificate has basicConstraints cA=true (a version 1 anchor without extensions
 *   is accepted, as OpenSSL does), respects pathLenConstraint, and has keyCertSign when it has a
 *   keyUsage extension;
 * - no certificate has a critical extension this code does not process (RFC 5280 §4.2);
 * - the signer has digitalSignature or nonRepudiation when it has a keyUsage extension;
 * - with CRLs: each CRL whose signature verifies with the issuer in the path (and whose issuer
 *   has cRLSign when it has keyUsage) is used to check the certificates that issuer issued.
 *
 * Not done: certificate policies, name constraints (a critical one makes the path untrusted),
 * extended key usage of the signer, OCSP, delta and indirect CRLs.
 *
 * Status precedence, when several problems are found (all are listed in `reasons`):
 *   bad-signature > revoked > untrusted-chain > expired > wrong-key-usage > trusted.
 * A content signature that does not verify outranks everything, because nothing about the signer
 * matters then; a revocation outranks chain problems because it is an explicit "do not trust"
 * (even from a CRL whose issuer chains to no anchor: it can only make the result worse); then
 * whether the signer is tied to an anchor at all; then time; then key usage.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../../errors/index.js';
import {
  EXT,
  loadCertificates,
  loadCrls,
  parseCertificate,
  parseCrl,
  verifySignedBytes,
  type CertificateIdentity,
  type ParsedCertificate,
  type ParsedCrl,
} from './certificates.js';
import { namesEqual } from './names.js';
import { looksLikePem, parsePem } from './pem.js';

export type TrustStatus = 'trusted' | 'untrusted-chain' | 'expired' | 'bad-signature' | 'wrong-key-usage' | 'revoked';

export interface TrustResult {
  status: TrustStatus;
  signer: CertificateIdentity;
  /** Signer first, anchor last, as built (a partial chain when no anchor was reached). */
  chain: CertificateIdentity[];
  signingTime?: Date;
  /** Human-readable, one per problem found, most serious kind first. Empty when trusted. */
  reasons: string[];
  /**
   * Things worth telling that do not change the status: a certificate whose revocation could not be
   * checked because no CRL covers it, a CRL that is out of date or was ignored, an unreadable
   * certificate among the others. Empty when no CRLs are given and nothing is odd.
   */
  warnings: string[];
}

export interface SignerInput {
  certificate: Buffer;
  otherCertificates: Buffer[];
  signatureValid: boolean;
  signingTime?: Date;
}

export interface TrustInput {
  anchors: Buffer[];
  crls?: Buffer[];
  now: Date;
}

/** The precedence, most serious first. */
export const TRUST_STATUS_PRECEDENCE: readonly TrustStatus[] = ['bad-signature', 'revoked', 'untrusted-chain', 'expired', 'wrong-key-usage', 'trusted'];

/** Longest path considered, signer and anchor included. */
export const MAX_PATH_LENGTH = 10;
/** Candidate issuers tried in all while building, against pathological sets of cross-certificates. */
const MAX_BUILD_STEPS = 2000;
/** Paths completed before building stops looking for a better one. */
const MAX_COMPLETE_PATHS = 16;

/** Extensions whose meaning is processed (or safely ignorable) here, so they may be critical. */
const PROCESSED_EXTENSIONS = new Set<string>([
  EXT.basicConstraints,
  EXT.keyUsage,
  EXT.extKeyUsage,
  EXT.subjectAltName,
  EXT.issuerAltName,
  EXT.subjectKeyIdentifier,
  EXT.authorityKeyIdentifier,
  EXT.certificatePolicies, // no policy is required by the relying party, so any policy will do
  EXT.cRLDistributionPoints,
  EXT.authorityInfoAccess,
]);

interface Node {
  cert: ParsedCertificate;
  anchor: boolean;
}

function label(c: ParsedCertificate): string {
  return `"${c.identity.subject || `serial ${c.identity.serialNumber}`}"`;
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

function isSelfIssued(c: ParsedCertificate): boolean {
  return namesEqual(c.subjectDer, c.issuerDer);
}

interface BuildOutcome {
  complete: Node[][];
  /** The longest path that did not reach an anchor, and why it stopped. */
  partial: Node[];
  partialReasons: string[];
}

function buildPaths(signer: Node, pool: Node[]): BuildOutcome {
  const complete: Node[][] = [];
  let partial: Node[] = [signer];
  let partialReasons: string[] = [];
  const verified = new Map<string, boolean>();
  let steps = 0;
  let stepsExceeded = false;

  const signatureOk = (child: ParsedCertificate, issuer: ParsedCertificate): boolean => {
    const key = `${child.identity.fingerprintSha256}/${issuer.identity.fingerprintSha256}`;
    let ok = verified.get(key);
    if (ok === undefined) {
      try {
        ok = child.x509.verify(issuer.x509.publicKey);
      } catch {
        ok = false;
      }
      verified.set(key, ok);
    }
    return ok;
  };

  const extend = (p: Node[]): void => {
    const last = p[p.length - 1] as Node;
    if (last.anchor) {
      complete.push([...p]);
      return;
    }
    const why: string[] = [];
    if (p.length >= MAX_PATH_LENGTH) {
      why.push(`the chain is longer than ${MAX_PATH_LENGTH} certificates without reaching a trust anchor`);
    } else {
      const candidates = pool
        .filter((n) => !p.includes(n) && namesEqual(n.cert.subjectDer, last.cert.issuerDer))
        .filter((n) => {
          const aki = last.cert.authorityKeyIdentifier;
          const ski = n.cert.subjectKeyIdentifier;
          return !aki || !ski || aki.equals(ski);
        })
        .sort((a, b) => Number(b.anchor) - Number(a.anchor));
      let extended = false;
      for (const c of candidates) {
        if (complete.length >= MAX_COMPLETE_PATHS) return;
        if (++steps > MAX_BUILD_STEPS) {
          stepsExceeded = true;
          break;
        }
        if (!signatureOk(last.cert, c.cert)) {
          why.push(`the signature on ${label(last.cert)} does not verify with the key of ${label(c.cert)}`);
          continue;
        }
        extended = true;
        p.push(c);
        extend(p);
        p.pop();
      }
      if (!extended && why.length === 0) {
        if (isSelfIssued(last.cert) && signatureOk(last.cert, last.cert)) {
          why.push(`the chain ends at the self-signed ${label(last.cert)}, which is not a trust anchor`);
        } else {
          why.push(`no certificate of the issuer of ${label(last.cert)} ("${last.cert.identity.issuer}") is among the certificates given or the trust anchors`);
        }
      }
      if (stepsExceeded) why.push(`path building stopped after trying ${MAX_BUILD_STEPS} candidate issuers`);
    }
    if (why.length > 0 && (p.length > partial.length || partialReasons.length === 0)) {
      partial = [...p];
      partialReasons = why;
    }
  };

  extend([signer]);
  return { complete, partial, partialReasons };
}

interface Findings {
  revoked: string[];
  chain: string[];
  expired: string[];
  usage: string[];
  warnings: string[];
}

function checkValidity(c: ParsedCertificate, at: Date, what: string, out: string[]): void {
  if (at.getTime() < c.notBefore.getTime()) {
    out.push(`${label(c)} is not yet valid at ${what} ${iso(at)} (valid from ${iso(c.notBefore)})`);
  } else if (at.getTime() > c.notAfter.getTime()) {
    out.push(`${label(c)} has expired at ${what} ${iso(at)} (valid until ${iso(c.notAfter)})`);
  }
}

function checkRevocation(p: Node[], crls: ParsedCrl[], now: Date, f: Findings): void {
  // Each certificate that has its issuer in the path; the anchor is not checked (RFC 5280 §6.1).
  for (let i = 0; i + 1 < p.length; i++) {
    const cert = (p[i] as Node).cert;
    const issuer = (p[i + 1] as Node).cert;
    let covered = false;
    for (const crl of crls) {
      if (!namesEqual(crl.issuerDer, cert.issuerDer)) continue;
      const ok = verifySignedBytes(crl.tbs, crl.signature, crl.signatureAlgorithmOid, crl.signatureAlgorithmParams, issuer.x509.publicKey);
      if (ok !== true) {
        const why = ok === undefined ? `its signature algorithm ${crl.signatureAlgorithmOid} is not supported` : 'its signature does not verify';
        f.warnings.push(`a CRL issued by "${crl.issuer}" was ignored: ${why} with the key of ${label(issuer)}`);
        continue;
      }
      if (issuer.keyUsage && !issuer.keyUsage.has('cRLSign')) {
        f.warnings.push(`a CRL issued by ${label(issuer)} was ignored: its keyUsage does not include cRLSign`);
        continue;
      }
      if (crl.unknownCriticalExtensions.length > 0) {
        f.warnings.push(`a CRL issued by ${label(issuer)} was ignored: unsupported critical extension ${crl.unknownCriticalExtensions.join(', ')}`);
        continue;
      }
      if (crl.thisUpdate.getTime() > now.getTime()) {
        f.warnings.push(`a CRL issued by ${label(issuer)} was ignored: it is dated in the future (${iso(crl.thisUpdate)})`);
        continue;
      }
      covered = true;
      if (crl.nextUpdate && crl.nextUpdate.getTime() < now.getTime()) {
        f.warnings.push(`the CRL issued by ${label(issuer)} is out of date (next update was due ${iso(crl.nextUpdate)})`);
      }
      const entry = crl.revoked.find((e) => e.serial.equals(cert.serial) || stripZeros(e.serial).equals(stripZeros(cert.serial)));
      if (entry) {
        const reason = entry.reason ? `, reason ${entry.reason}` : '';
        f.revoked.push(`${label(cert)} (serial ${cert.identity.serialNumber}) was revoked on ${iso(entry.revocationDate)}${reason}, according to the CRL of ${label(issuer)}`);
        break;
      }
    }
    if (!covered) f.warnings.push(`no usable CRL from ${label(issuer)} was given: the revocation of ${label(cert)} was not checked`);
  }
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function evaluatePath(p: Node[], complete: boolean, buildReasons: string[], input: SignerInput, trust: TrustInput, crls: ParsedCrl[]): Findings {
  const f: Findings = { revoked: [], chain: [], expired: [], usage: [], warnings: [] };
  if (!complete) f.chain.push(...buildReasons);
  p.forEach((node, i) => {
    const c = node.cert;
    if (input.signingTime) checkValidity(c, input.signingTime, 'the signing time', f.expired);
    checkValidity(c, trust.now, 'the time of checking', f.expired);
    const unknownCritical = c.extensions.filter((e) => e.critical && !PROCESSED_EXTENSIONS.has(e.oid)).map((e) => e.oid);
    if (unknownCritical.length > 0) f.chain.push(`${label(c)} has a critical extension that is not supported: ${unknownCritical.join(', ')}`);
    if (i === 0) {
      if (c.keyUsage && !c.keyUsage.has('digitalSignature') && !c.keyUsage.has('nonRepudiation')) {
        const has = [...c.keyUsage].join(', ') || 'none';
        f.usage.push(`the signer ${label(c)} may not sign: its keyUsage (${has}) has neither digitalSignature nor nonRepudiation`);
      }
      return;
    }
    const issued = (p[i - 1] as Node).cert;
    const v1Anchor = node.anchor && c.version === 1;
    if (!v1Anchor) {
      if (!c.basicConstraints?.cA) {
        f.chain.push(`${label(c)} issued ${label(issued)} but is not a CA (basicConstraints cA is not set)`);
      } else if (c.basicConstraints.pathLength !== undefined) {
        // Non-self-issued intermediate CA certificates between this one and the signer (RFC 5280 §4.2.1.9).
        let below = 0;
        for (let j = 1; j < i; j++) if (!isSelfIssued((p[j] as Node).cert)) below++;
        if (below > c.basicConstraints.pathLength) {
          f.chain.push(`${label(c)} allows ${c.basicConstraints.pathLength} intermediate CA certificate(s) below it (pathLenConstraint) but the chain has ${below}`);
        }
      }
      if (c.keyUsage && !c.keyUsage.has('keyCertSign')) {
        f.chain.push(`${label(c)} issued ${label(issued)} but its keyUsage does not include keyCertSign`);
      }
    }
  });
  if (crls.length > 0) checkRevocation(p, crls, trust.now, f);
  if (input.signingTime && input.signingTime.getTime() > trust.now.getTime()) {
    f.warnings.push(`the signing time ${iso(input.signingTime)} is later than the time of checking ${iso(trust.now)}`);
  }
  return f;
}

function statusOf(signatureValid: boolean, f: Findings): TrustStatus {
  if (!signatureValid) return 'bad-signature';
  if (f.revoked.length > 0) return 'revoked';
  if (f.chain.length > 0) return 'untrusted-chain';
  if (f.expired.length > 0) return 'expired';
  if (f.usage.length > 0) return 'wrong-key-usage';
  return 'trusted';
}

/**
 * Decides whether the signer of a file is trusted (see the file header for what is checked and
 * the precedence). Throws CERT_UNREADABLE only when the signer's own certificate cannot be read;
 * unreadable other certificates, anchors or CRLs become warnings.
 */
export function evaluateSigner(input: SignerInput, trust: TrustInput): TrustResult {
  const signerCert = parseCertificate(input.certificate);
  const warnings: string[] = [];
  const byFingerprint = new Map<string, Node>();
  for (const der of trust.anchors) {
    try {
      const cert = parseCertificate(der);
      byFingerprint.set(cert.identity.fingerprintSha256, { cert, anchor: true });
    } catch {
      warnings.push('an unreadable trust anchor was ignored');
    }
  }
  for (const der of input.otherCertificates) {
    try {
      const cert = parseCertificate(der);
      if (!byFingerprint.has(cert.identity.fingerprintSha256)) byFingerprint.set(cert.identity.fingerprintSha256, { cert, anchor: false });
    } catch {
      warnings.push('an unreadable certificate among those given with the signature was ignored');
    }
  }
  const crls: ParsedCrl[] = [];
  for (const der of trust.crls ?? []) {
    try {
      crls.push(parseCrl(der));
    } catch {
      warnings.push('an unreadable CRL was ignored');
    }
  }
  // The signer itself may be an anchor (a pinned certificate): then the path is just the signer.
  const signer: Node = byFingerprint.get(signerCert.identity.fingerprintSha256) ?? { cert: signerCert, anchor: false };
  const pool = [...byFingerprint.values()].filter((n) => n !== signer);

  const outcome = buildPaths(signer, pool);
  const candidates: { p: Node[]; f: Findings }[] = outcome.complete.map((p) => ({ p, f: evaluatePath(p, true, [], input, trust, crls) }));
  if (candidates.length === 0) candidates.push({ p: outcome.partial, f: evaluatePath(outcome.partial, false, outcome.partialReasons, input, trust, crls) });

  const rank = (c: { p: Node[]; f: Findings }): number[] => {
    const s = statusOf(true, c.f);
    const problems = c.f.revoked.length + c.f.chain.length + c.f.expired.length + c.f.usage.length;
    // Best: the least serious status, then fewest problems, then the shortest path.
    return [TRUST_STATUS_PRECEDENCE.length - TRUST_STATUS_PRECEDENCE.indexOf(s), problems, c.p.length];
  };
  candidates.sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
    return 0;
  });
  const best = candidates[0] as { p: Node[]; f: Findings };

  const reasons: string[] = [];
  if (!input.signatureValid) reasons.push('the signature over the content does not verify with the signer certificate (the file was altered or the signature is damaged)');
  reasons.push(...best.f.revoked, ...best.f.chain, ...best.f.expired, ...best.f.usage);
  const result: TrustResult = {
    status: statusOf(input.signatureValid, best.f),
    signer: signerCert.identity,
    chain: best.p.map((n) => n.cert.identity),
    reasons,
    warnings: [...warnings, ...best.f.warnings],
  };
  if (input.signingTime) result.signingTime = input.signingTime;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Trust store

const CERT_EXTENSIONS = new Set(['.pem', '.crt', '.cer', '.der']);
const CRL_EXTENSIONS = new Set(['.crl']);

/**
 * Trust anchors (and CRLs) from PEM bundles, DER files and folders. A folder is read one level
 * deep: certificates from *.pem, *.crt, *.cer, *.der, CRLs from *.crl and from `X509 CRL` blocks
 * in PEM files. Other files are skipped. An unreadable certificate file is an error: a trust store
 * that silently drops an anchor would turn into "untrusted" results that are hard to explain.
 */
export class TrustStore {
  readonly anchors: Buffer[];
  readonly crls: Buffer[];
  /** Files that were skipped and why (no secret material is ever named here). */
  readonly warnings: string[];

  private constructor(anchors: Buffer[], crls: Buffer[], warnings: string[]) {
    this.anchors = anchors;
    this.crls = crls;
    this.warnings = warnings;
  }

  static fromDer(anchors: Buffer[], crls: Buffer[] = []): TrustStore {
    const seen = new Set<string>();
    const unique = anchors.filter((der) => {
      const fp = parseCertificate(der).identity.fingerprintSha256;
      if (seen.has(fp)) return false;
      seen.add(fp);
      return true;
    });
    for (const der of crls) parseCrl(der);
    return new TrustStore(unique, crls, []);
  }

  static async load(paths: string[]): Promise<TrustStore> {
    const anchors: Buffer[] = [];
    const crls: Buffer[] = [];
    const warnings: string[] = [];
    const readOne = async (file: string, fromFolder: boolean): Promise<void> => {
      const ext = path.extname(file).toLowerCase();
      const bytes = await readFile(file);
      try {
        if (CRL_EXTENSIONS.has(ext)) {
          crls.push(...loadCrls(bytes));
          return;
        }
        if (looksLikePem(bytes)) {
          const labels = new Set(parsePem(bytes.toString('latin1')).map((b) => b.label));
          const hasCert = ['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE'].some((l) => labels.has(l));
          if (labels.has('X509 CRL')) crls.push(...loadCrls(bytes));
          if (hasCert) anchors.push(...loadCertificates(bytes));
          if (!hasCert && !labels.has('X509 CRL')) {
            if (fromFolder) warnings.push(`${file}: no certificate or CRL in it, skipped`);
            else throw new DcmsafeError('CERT_UNREADABLE', 'No certificate in the file');
          }
          return;
        }
        anchors.push(...loadCertificates(bytes));
      } catch (e) {
        const err = e as DcmsafeError;
        throw new DcmsafeError('CERT_UNREADABLE', `${file}: ${err.message}`, { file }, { cause: e });
      }
    };
    for (const p of paths) {
      let st;
      try {
        st = await stat(p);
      } catch (e) {
        throw new DcmsafeError('INPUT_NOT_FOUND', `Trust store path not found: ${p}`, { file: p }, { cause: e });
      }
      if (st.isDirectory()) {
        const names = (await readdir(p)).sort();
        for (const name of names) {
          const ext = path.extname(name).toLowerCase();
          if (!CERT_EXTENSIONS.has(ext) && !CRL_EXTENSIONS.has(ext)) continue;
          const file = path.join(p, name);
          if (!(await stat(file)).isFile()) continue;
          await readOne(file, true);
        }
      } else {
        await readOne(p, false);
      }
    }
    const store = TrustStore.fromDer(anchors, crls);
    store.warnings.push(...warnings);
    return store;
  }

  /** The anchors and CRLs as evaluateSigner takes them. */
  trustInput(now: Date): TrustInput {
    return { anchors: this.anchors, crls: this.crls, now };
  }
}
