/** The import report's text says what became of each instance that was not stored. */
import { describe, expect, it } from 'vitest';
import { formatImportReport } from '../../src/cli/net-commands.js';
import type { ImportReport } from '../../src/pipelines/import-media.js';

describe('import report text', () => {
  it('tells an instance never sent from one refused and from one sent without an answer', () => {
    const report = {
      verify: { media: { path: 'disc.iso', kind: 'iso9660', secure: true, dicomdir: 'present' }, verdict: 'trusted', passed: true },
      destination: 'PACS@127.0.0.1:11112',
      stored: [],
      alreadyStored: [],
      skipped: [],
      notPatientData: [],
      failed: [
        { file: 'A', sopInstanceUID: '1.1', reason: 'NET_CONNECT: refused', code: 'NET_CONNECT', attempted: false },
        { file: 'B', sopInstanceUID: '1.2', reason: 'Out of resources', status: 0xa700, attempted: true },
        { file: 'C', sopInstanceUID: '1.3', reason: 'NET_TIMEOUT: no answer', code: 'NET_TIMEOUT', attempted: true },
        { file: 'D\u001b[2J', sopInstanceUID: '1.4', reason: 'Refused: \u001b]0;owned\u0007', status: 0xc000, attempted: true },
      ],
      journal: '/tmp/j.jsonl',
      exitCode: 4,
    } as unknown as ImportReport;
    const text = formatImportReport(report);
    expect(text).toMatch(/^Medium: disc\.iso \(iso9660\) — verdict trusted$/m);
    expect(text).toMatch(/A: NET_CONNECT: refused \(not sent\)/);
    expect(text).toMatch(/B: Out of resources \(refused by the PACS\)/);
    // Names from the medium and texts from the PACS cannot steer the terminal.
    expect(text).not.toContain('\u001b');
    expect(text).toContain('D[U+001B][2J: Refused: [U+001B]]0;owned[U+0007]');
    expect(text).toMatch(/C: NET_TIMEOUT: no answer \(sent, not acknowledged: the PACS may hold it; a re-run sends it again\)/);
  });
});
