/**
 * The configuration of a front desk as the UI tests set it up: files in the folder of the
 * configuration (`pki/` from `dcmsafe pki demo`, `samples/` as the inbox, `outbox/`, `audit.log`,
 * `operators.json`), the demo PKI as signer, trust anchor and recipient institution.
 */
import { writeFileSync } from 'node:fs';

export function writeDeskConfig(file: string, extra: Record<string, unknown> = {}): void {
  const config = {
    institution: { name: 'St. Elsewhere Radiology' },
    signing: { certificate: 'pki/media-signer.pem', key: 'pki/media-signer.key' },
    trust: ['pki/demo-root-ca.pem'],
    recipients: [{ name: 'University Hospital', certificate: 'pki/media-recipient.pem' }],
    audit: { log: 'audit.log' },
    operatorsFile: 'operators.json',
    inbox: 'samples',
    media: { outbox: 'outbox' },
    ...extra,
  };
  writeFileSync(file, JSON.stringify(config));
}
