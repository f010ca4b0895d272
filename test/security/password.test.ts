import { describe, expect, it } from 'vitest';
import { generatePassword, PASSWORD_ALPHABET } from '../../src/security/password.js';
import { seededRandom, systemRandom } from '../../src/util/random.js';

describe('generated media passwords', () => {
  it('carry at least 100 bits, in groups of four, without look-alike characters', () => {
    const { password, bits } = generatePassword(systemRandom);
    expect(bits).toBeGreaterThanOrEqual(100);
    expect(password).toMatch(/^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4})+$/);
    expect(PASSWORD_ALPHABET).not.toMatch(/[01IO]/);
    expect(new Set(PASSWORD_ALPHABET).size).toBe(32);
  });

  it('are printable US-ASCII (PS3.15 D.1) and differ every time', () => {
    const a = generatePassword(systemRandom).password;
    const b = generatePassword(systemRandom).password;
    expect(a).not.toBe(b);
    expect(/^[\x20-\x7e]+$/.test(a)).toBe(true);
  });

  it('use every symbol with the same probability', () => {
    const counts = new Map<string, number>();
    const random = seededRandom('uniform');
    for (let i = 0; i < 2000; i++) for (const c of generatePassword(random).password.replace(/-/g, '')) counts.set(c, (counts.get(c) ?? 0) + 1);
    const values = [...counts.values()];
    expect(counts.size).toBe(32);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.max(...values) / mean).toBeLessThan(1.1);
    expect(Math.min(...values) / mean).toBeGreaterThan(0.9);
  });
});
