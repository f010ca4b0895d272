/**
 * ContentKeyCache (src/security/secure-file.ts): a file opened twice by the importer (its header in
 * planning, its content while sending) costs one RSA private operation; each kept result is handed out
 * once and wiped, the cache holds at most its bound (the first ones), and clear() wipes the rest.
 */
import { generateKeyPairSync, publicEncrypt, constants, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RawPrivateOperation } from '../../src/security/cms/ktri.js';
import type { DecryptionKeys } from '../../src/security/cms/reader.js';
import { ContentKeyCache } from '../../src/security/secure-file.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** An encrypted content key, as a KeyTransRecipientInfo carries it. */
const encryptedKey = (n: number): Buffer => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.alloc(32, n));

/** Keys whose raw operation counts its calls and remembers what it returned. */
function countingKeys(): { keys: DecryptionKeys; calls: () => number; returned: Buffer[] } {
  let calls = 0;
  const returned: Buffer[] = [];
  const raw: RawPrivateOperation = async (c) => {
    calls++;
    const em = Buffer.alloc(c.length, c[0]);
    returned.push(em);
    return em;
  };
  return { keys: { certificates: [{ certificate: Buffer.alloc(0), privateKey: privateKey as KeyObject, rawPrivate: raw }] }, calls: () => calls, returned };
}

const opOf = (keys: DecryptionKeys): RawPrivateOperation => keys.certificates![0]!.rawPrivate!;

describe('ContentKeyCache', () => {
  it('answers the second opening of a file from the first, once, with a copy', async () => {
    const { keys, calls } = countingKeys();
    const cache = new ContentKeyCache();
    const op = opOf(cache.wrap(keys));
    const c = encryptedKey(1);
    const first = await op(c);
    expect(calls()).toBe(1);
    expect(cache.size).toBe(1);
    const second = await op(c);
    expect(calls()).toBe(1); // no second RSA operation
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    expect(cache.size).toBe(0); // handed out once
    await op(c);
    expect(calls()).toBe(2);
  });

  it('never answers another encrypted key (another or altered file) from the cache', async () => {
    const { keys, calls } = countingKeys();
    const op = opOf(new ContentKeyCache().wrap(keys));
    const c = encryptedKey(2);
    await op(c);
    const altered = Buffer.from(c);
    altered[10]! ^= 1;
    await op(altered);
    expect(calls()).toBe(2);
  });

  it('keeps at most its bound (the first ones), and clear() wipes what is left', async () => {
    const { keys, calls } = countingKeys();
    const cache = new ContentKeyCache(2);
    const op = opOf(cache.wrap(keys));
    const cs = [1, 2, 3].map(encryptedKey);
    for (const c of cs) await op(c);
    expect(cache.size).toBe(2);
    await op(cs[0]!);
    await op(cs[2]!);
    expect(calls()).toBe(4); // the first was kept, the third was not (kept now, in the room the first left)
    const kept = (cache as unknown as { entries: Map<string, Buffer> }).entries;
    const left = [...kept.values()];
    expect(left).toHaveLength(2);
    expect(left.every((em) => em.some((b) => b !== 0))).toBe(true);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(left.every((em) => em.every((b) => b === 0))).toBe(true);
  });

  it('without a raw operation of its own, does the RSA operation here', async () => {
    const cache = new ContentKeyCache();
    const op = opOf(cache.wrap({ certificates: [{ certificate: Buffer.alloc(0), privateKey: privateKey as KeyObject }] }));
    const em = await op(encryptedKey(3));
    // PKCS#1 v1.5 type 2 block: 00 02 ... 00 || key
    expect(em?.[0]).toBe(0);
    expect(em?.[1]).toBe(2);
    expect(em?.subarray(-32).equals(Buffer.alloc(32, 3))).toBe(true);
  });
});
