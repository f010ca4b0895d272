/**
 * Keys, certificates, trust and secrets for Secure DICOM Files (PS3.15 D.1) and DICOM-TLS: the
 * public surface of src/security/pki.
 */
export { loadPrivateKey, loadPkcs12, isPkcs12, assertKeyMatchesCertificate, type Pkcs12Identity } from './keys.js';
export {
  loadCertificates,
  loadCrls,
  describeCertificate,
  parseCertificate,
  parseCrl,
  type CertificateIdentity,
  type ParsedCertificate,
  type ParsedCrl,
  type KeyUsageName,
} from './certificates.js';
export {
  evaluateSigner,
  TrustStore,
  TRUST_STATUS_PRECEDENCE,
  MAX_PATH_LENGTH,
  type TrustStatus,
  type TrustResult,
  type SignerInput,
  type TrustInput,
} from './trust.js';
export { readSecret, promptHidden, assertMediaPassword, type SecretSource, type ReadSecretOptions } from './secrets.js';
export {
  issueCertificate,
  issueCrl,
  generateRsaKeyPair,
  encodeName,
  type IssueCertificateOptions,
  type IssuerCredentials,
  type ExtendedKeyUsageName,
} from './issue.js';
export { makeDemoPki, DEMO_ORGANIZATION, type DemoPkiSummary, type DemoCredential } from './demo.js';
export { parsePem, toPem, type PemBlock } from './pem.js';
