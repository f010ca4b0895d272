import { describe, expect, it } from 'vitest';
import { rc2CbcDecrypt, rc2EncryptBlock, rc2ExpandKey } from '../../../src/security/pki/rc2.js';
import { describeWithTools, run, tempDir } from '../../helpers/env.js';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

describe('RC2 (RFC 2268)', () => {
  // The known-answer vectors of RFC 2268 §5: key, effective key bits, plaintext, ciphertext.
  const vectors: [string, number, string, string][] = [
    ['0000000000000000', 63, '0000000000000000', 'ebb773f993278eff'],
    ['ffffffffffffffff', 64, 'ffffffffffffffff', '278b27e42e2f0d49'],
    ['3000000000000000', 64, '1000000000000001', '30649edf9be7d2c2'],
    ['88', 64, '0000000000000000', '61a8a244adacccf0'],
    ['88bca90e90875a', 64, '0000000000000000', '6ccf4308974c267f'],
    ['88bca90e90875a7f0f79c384627bafb2', 64, '0000000000000000', '1a807d272bbe5db1'],
    ['88bca90e90875a7f0f79c384627bafb2', 128, '0000000000000000', '2269552ab0f85ca6'],
  ];
  it.each(vectors)('key %s, %i bits: encrypts to the RFC value', (key, bits, plain, cipher) => {
    const block = Buffer.from(plain, 'hex');
    rc2EncryptBlock(rc2ExpandKey(Buffer.from(key, 'hex'), bits), block);
    expect(block.toString('hex')).toBe(cipher);
  });

  it('refuses bad padding', () => {
    expect(() => rc2CbcDecrypt(Buffer.alloc(5, 1), 40, Buffer.alloc(8), Buffer.alloc(16, 7))).toThrow(/bad decrypt/);
  });
});

describeWithTools(['openssl'], 'RC2-CBC against OpenSSL (legacy provider)', () => {
  const dir = tempDir('dcmsafe-rc2-');
  it.each([
    [40, 'rc2-40-cbc', '0102030405'],
    [128, 'rc2-cbc', '000102030405060708090a0b0c0d0e0f'],
  ])('decrypts what openssl enc -%s writes', (bits, cipher, key) => {
    const plain = path.join(dir, `p${bits}.txt`);
    writeFileSync(plain, 'hello RC2, a message of more than one block\n');
    const out = path.join(dir, `c${bits}.bin`);
    const r = run('openssl', ['enc', `-${cipher}`, '-provider', 'legacy', '-provider', 'default', '-K', key, '-iv', '0001020304050607', '-in', plain, '-out', out]);
    if (r.status !== 0) {
      // Some OpenSSL builds ship without the legacy provider; the RFC vectors above still cover RC2.
      expect(r.stderr).toMatch(/legacy|unsupported|provider/i);
      return;
    }
    const got = rc2CbcDecrypt(Buffer.from(key, 'hex'), bits, Buffer.from('0001020304050607', 'hex'), readFileSync(out));
    expect(got.toString()).toBe('hello RC2, a message of more than one block\n');
  });
});
