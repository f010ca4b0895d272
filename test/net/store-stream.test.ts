/**
 * C-STORE streaming (PS3.7 §9.1.1 over PS3.8 §9.3.5): a 50 MB generated data set goes out as P-DATA-TF
 * PDUs no longer than the peer's Maximum Length (16 384), every fragment full but the last, bytes in
 * order; the source is never read more than a few hundred KiB ahead of what the peer has consumed
 * (back-pressure), and memory stays far below the data set's size.
 */
import { describe, expect, it } from 'vitest';
import { Association } from '../../src/net/association.js';
import { openStoreSession } from '../../src/net/client.js';
import { COMMAND_FIELD, encodeCommand, receiveCommand, receiveDataSet } from '../../src/net/dimse.js';
import { PC_RESULT } from '../../src/net/pdu.js';
import { memoryTransportPair } from './memory-transport.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const PEER_MAX = 16384;
const SIZE = 50 * 1024 * 1024;
const CHUNK = 64 * 1024 + 3; // not a multiple of the fragment size

/** Byte i of the generated data set. */
const byteAt = (i: number): number => (i * 31 + (i >>> 13)) & 0xff;


/** The peer's side: accepts every context (with a PEER_MAX limit) and reads the first command, which must not be a release. */
async function acceptStore(b: Parameters<typeof Association.accept>[0]) {
  const assoc = await Association.accept(
    b,
    (rq) => ({ contexts: rq.presentationContexts.map((pc) => ({ id: pc.id, result: PC_RESULT.ACCEPTANCE, transferSyntax: pc.transferSyntaxes[0]! })) }),
    { maxPduLength: PEER_MAX },
  );
  if (!assoc) throw new Error('not accepted');
  const got = await receiveCommand(assoc);
  if (got === 'release') throw new Error('release');
  return { assoc, got };
}

describe('streamed C-STORE', () => {
  it.each([
    ['a known length', SIZE],
    ['a length known only at the end (rewritten data sets)', undefined],
  ])('fragments 50 MB to the peer maximum without buffering the data set, with %s', async (_label, announced) => {
    const pduLengths: number[] = [];
    let dataWrites = 0;
    const { a, b, stats } = memoryTransportPair({
      highWaterMark: 64 * 1024,
      // Each write holds whole PDUs (several P-DATA-TF when the peer's maximum is small): walk them all.
      tapAtoB: (chunk) => {
        if (chunk[0] === 0x04) dataWrites++;
        for (let at = 0; at < chunk.length; at += 6 + chunk.readUInt32BE(at + 2)) {
          if (chunk[at] === 0x04) pduLengths.push(chunk.readUInt32BE(at + 2));
        }
      },
    });
    let produced = 0;
    let consumed = 0;
    let maxLead = 0;
    const fragments: number[] = [];
    let mismatch = -1;

    const peer = (async () => {
      const { assoc, got } = await acceptStore(b);
      await receiveDataSet(assoc, got.contextId, async (fragment) => {
        fragments.push(fragment.length);
        if (mismatch < 0) {
          for (let k = 0; k < fragment.length; k += 997) if (fragment[k] !== byteAt(consumed + k)) mismatch = consumed + k;
        }
        consumed += fragment.length;
        // A slow reader now and then, so the sender must wait.
        if (fragments.length % 64 === 0) await new Promise((r) => setTimeout(r, 1));
      });
      const rsp = encodeCommand({ commandField: COMMAND_FIELD.C_STORE_RSP, messageIdBeingRespondedTo: got.command.messageId!, hasDataSet: false, status: 0 });
      await assoc.sendFragmented(got.contextId, true, rsp);
      if ((await receiveCommand(assoc)) === 'release') await assoc.acceptRelease();
    })();

    async function* source(): AsyncGenerator<Buffer> {
      while (produced < SIZE) {
        const n = Math.min(CHUNK, SIZE - produced);
        const chunk = Buffer.allocUnsafe(n);
        for (let k = 0; k < n; k++) chunk[k] = byteAt(produced + k);
        produced += n;
        maxLead = Math.max(maxLead, produced - consumed);
        yield chunk;
      }
    }

    global.gc?.();
    const before = process.memoryUsage();
    let peakExternal = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakExternal = Math.max(peakExternal, m.arrayBuffers - before.arrayBuffers);
    }, 5);
    const session = await openStoreSession({
      host: 'memory',
      port: 104,
      callingAE: 'DCMSAFE',
      calledAE: 'PEER',
      connect: async () => a,
      contexts: [{ sopClassUID: CT, transferSyntaxes: [EXPLICIT_LE] }],
    });
    const result = await session.store(1, CT, '1.2.3.4', source(), announced);
    await session.release();
    await peer;
    clearInterval(sampler);

    expect(result.category).toBe('success');
    expect(consumed).toBe(SIZE);
    expect(mismatch).toBe(-1);
    // Every P-DATA-TF PDU within the peer's Maximum Length; all data fragments full but the last.
    expect(Math.max(...pduLengths)).toBeLessThanOrEqual(PEER_MAX);
    expect(fragments.slice(0, -1).every((n) => n === PEER_MAX - 6)).toBe(true);
    expect(fragments.length).toBe(Math.ceil(SIZE / (PEER_MAX - 6)));
    // One P-DATA-TF PDU per fragment (plus the command's), but several PDUs per write (WRITE_BATCH).
    expect(pduLengths.length).toBe(fragments.length + 1);
    expect(dataWrites).toBeLessThan(pduLengths.length / 3);
    // Back-pressure: the source runs ahead of the peer by the pipe, one fragment and one chunk at most.
    expect(stats.maxQueuedAtoB).toBeLessThan(64 * 1024 + PEER_MAX + 64);
    expect(maxLead).toBeLessThan(512 * 1024);
    // Loose memory check: garbage may linger until the next GC, but nothing near 50 MB (+ copies) is held.
    expect(peakExternal).toBeLessThan(48 * 1024 * 1024);
  });
});

describe('P-DATA batch buffers', () => {
  it('are reused once the transport has written them, every byte reaches the peer intact, and the command leaves with the first data', async () => {
    const size = 8 * 1024 * 1024;
    const buffers = new Set<ArrayBufferLike>();
    let writes = 0;
    let firstPData: Buffer | undefined;
    const { a, b } = memoryTransportPair({
      copyWrites: true,
      tapAtoB: (chunk) => {
        writes++;
        buffers.add(chunk.buffer);
        if (!firstPData && chunk[0] === 0x04) firstPData = Buffer.from(chunk);
      },
    });
    let consumed = 0;
    let mismatch = -1;
    const peer = (async () => {
      const { assoc, got } = await acceptStore(b);
      await receiveDataSet(assoc, got.contextId, (fragment) => {
        for (let k = 0; k < fragment.length; k++) if (mismatch < 0 && fragment[k] !== byteAt(consumed + k)) mismatch = consumed + k;
        consumed += fragment.length;
      });
      const rsp = encodeCommand({ commandField: COMMAND_FIELD.C_STORE_RSP, messageIdBeingRespondedTo: got.command.messageId!, hasDataSet: false, status: 0 });
      await assoc.sendFragmented(got.contextId, true, rsp);
      if ((await receiveCommand(assoc)) === 'release') await assoc.acceptRelease();
    })();
    async function* source(): AsyncGenerator<Buffer> {
      for (let at = 0; at < size; at += CHUNK) {
        const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - at));
        for (let k = 0; k < chunk.length; k++) chunk[k] = byteAt(at + k);
        yield chunk;
      }
    }
    const session = await openStoreSession({ host: 'memory', port: 104, callingAE: 'DCMSAFE', calledAE: 'PEER', connect: async () => a, contexts: [{ sopClassUID: CT, transferSyntaxes: [EXPLICIT_LE] }] });
    const result = await session.store(1, CT, '1.2.3.4', source(), undefined);
    await session.release();
    await peer;
    expect(result.category).toBe('success');
    expect(consumed).toBe(size);
    expect(mismatch).toBe(-1);
    // Dozens of data writes, built in a handful of buffers (the association PDUs have their own).
    expect(writes).toBeGreaterThan(20);
    expect(buffers.size).toBeLessThan(10);
    // The C-STORE-RQ (a PDU of its own, command and last flags) and the first data PDUs went in one write.
    const first = firstPData!;
    expect(first[11]).toBe(0x03);
    const commandPdu = 6 + first.readUInt32BE(2);
    expect(first.length).toBeGreaterThan(commandPdu);
    expect(first[commandPdu]).toBe(0x04);
    expect(first[commandPdu + 11]).toBe(0x00);
  });
});
