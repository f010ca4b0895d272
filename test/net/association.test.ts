/**
 * Associations, C-ECHO and C-STORE between our client and our SCP (and hand-driven peers) over an
 * in-memory transport pair: no network. Covers negotiation, rejection in words, timeouts, a peer that
 * is not DICOM, statuses end to end, data sets arriving byte-identical, and hostile requests to the SCP.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPart10File } from '../../src/dicom/part10/header.js';
import { T } from '../../src/dicom/tags.js';
import { Association } from '../../src/net/association.js';
import { echo, openStoreSession, storeContexts, type PeerOptions } from '../../src/net/client.js';
import { COMMAND_FIELD, encodeCommand, receiveCommand, receiveDataSet } from '../../src/net/dimse.js';
import { decodePduBuffer, encodePdu, PC_RESULT, type AssociateRq } from '../../src/net/pdu.js';
import { createStoreScpHandler } from '../../src/net/server.js';
import type { Transport } from '../../src/net/transport.js';
import { CORPUS, tempDir } from '../helpers/env.js';
import { expectCode } from '../helpers/errors.js';
import { memoryTransportPair } from './memory-transport.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';


function peer(a: Transport, extra: Partial<PeerOptions> = {}): PeerOptions {
  return { host: 'memory', port: 104, callingAE: 'DCMSAFE', calledAE: 'STORESCP', connect: async () => a, timeoutMs: 2000, ...extra };
}

/** Reads what a hand-driven peer receives, as PDUs. */
async function readPdu(t: Transport): Promise<ReturnType<typeof decodePduBuffer>> {
  const chunks: Buffer[] = [];
  for (;;) {
    const c = await t.read();
    if (c === null) throw new Error('closed');
    chunks.push(c);
    const b = Buffer.concat(chunks);
    if (b.length >= 6 && b.length >= 6 + b.readUInt32BE(2)) return decodePduBuffer(b.subarray(0, 6 + b.readUInt32BE(2)));
  }
}

describe('client and SCP over an in-memory transport', () => {
  const dir = tempDir('dcmsafe-net-');

  it('echoes', async () => {
    const { a, b } = memoryTransportPair();
    const scp = createStoreScpHandler({ aeTitle: 'STORESCP', storageDir: dir });
    const served = scp.serve(b);
    const r = await echo(peer(a));
    expect(r.ok).toBe(true);
    expect(r.status).toBe(0);
    expect(r.peer.implementationVersionName).toBe('DCMSAFE_0_1');
    await served;
    expect(scp.stats.echoes).toBe(1);
  });

  it('stores corpus files whose data sets arrive byte-identical, as valid Part 10 files', async () => {
    const files = ['ct/CT_small.dcm', 'mr/MR_small.dcm', 'ct/CT0012.fragmented_no_bot_jpeg_baseline.51.dcm'].map((f) => path.join(CORPUS, f));
    const infos = await Promise.all(
      files.map(async (f) => {
        const h = await readPart10File(f);
        return { f, h, sopClass: h.meta!.string(T.MediaStorageSOPClassUID)!, sopInstance: h.meta!.string(T.MediaStorageSOPInstanceUID)!, ts: h.transferSyntax.uid };
      }),
    );
    const { a, b } = memoryTransportPair();
    const scp = createStoreScpHandler({ aeTitle: 'STORESCP', storageDir: dir });
    const served = scp.serve(b);
    const session = await openStoreSession({ ...peer(a), contexts: infos.map((i) => ({ sopClassUID: i.sopClass, transferSyntaxes: [i.ts, EXPLICIT_LE] })) });
    for (const i of infos) {
      const ctx = session.accepted(i.sopClass).find((c) => c.transferSyntaxUID === i.ts);
      expect(ctx, i.f).toBeDefined();
      const bytes = readFileSync(i.f).subarray(i.h.dataSetOffset);
      // Chunks of odd sizes, to exercise fragment assembly across chunk boundaries.
      const chunks = [bytes.subarray(0, 1), bytes.subarray(1, 5000), bytes.subarray(5000)];
      const result = await session.store(ctx!.contextId, i.sopClass, i.sopInstance, chunks, bytes.length);
      expect(result).toEqual({ status: 0, category: 'success', meaning: '0000 success' });
      const written = path.join(dir, `${i.sopInstance}.dcm`);
      const back = await readPart10File(written);
      expect(back.transferSyntax.uid).toBe(i.ts);
      expect(back.meta!.string(T.MediaStorageSOPInstanceUID)).toBe(i.sopInstance);
      expect(back.meta!.string(T.SourceApplicationEntityTitle)).toBe('DCMSAFE');
      expect(readFileSync(written).subarray(back.dataSetOffset).equals(bytes)).toBe(true);
    }
    await session.release();
    await served;
    expect(scp.stats.stored).toBe(3);
    expect(readdirSync(dir).filter((n) => n.endsWith('.part'))).toEqual([]);
  });

  it('proposes one presentation context per (SOP class, transfer syntax) pair, odd IDs', () => {
    expect(storeContexts([{ sopClassUID: CT, transferSyntaxes: ['1.2.840.10008.1.2.4.50', EXPLICIT_LE] }, { sopClassUID: CT, transferSyntaxes: [EXPLICIT_LE] }])).toEqual([
      { id: 1, abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2.4.50'] },
      { id: 3, abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] },
    ]);
  });

  it('reports what the SCP accepted and why the rest was refused', async () => {
    const { a, b } = memoryTransportPair();
    const scp = createStoreScpHandler({ aeTitle: 'STORESCP', storageDir: dir, acceptTransferSyntaxes: [EXPLICIT_LE] });
    const served = scp.serve(b);
    const session = await openStoreSession({
      ...peer(a),
      contexts: [
        { sopClassUID: CT, transferSyntaxes: ['1.2.840.10008.1.2.4.50', EXPLICIT_LE] },
        { sopClassUID: '1.2.840.10008.5.1.4.1.2.2.1', transferSyntaxes: [EXPLICIT_LE] }, // Study Root FIND: not storage
      ],
    });
    expect(session.accepted(CT)).toEqual([{ contextId: 3, transferSyntaxUID: EXPLICIT_LE }]);
    expect(session.refusals(CT)).toEqual([{ transferSyntaxUID: '1.2.840.10008.1.2.4.50', reason: 'transfer syntaxes not supported' }]);
    expect(session.refusals('1.2.840.10008.5.1.4.1.2.2.1')[0]?.reason).toBe('abstract syntax not supported');
    await session.release();
    await served;
  });

  it('fails with NET_ASSOCIATION when nothing is accepted', async () => {
    const { a, b } = memoryTransportPair();
    const scp = createStoreScpHandler({ aeTitle: 'STORESCP', storageDir: dir, acceptTransferSyntaxes: [IMPLICIT_LE] });
    const served = scp.serve(b);
    await expectCode(openStoreSession({ ...peer(a), contexts: [{ sopClassUID: CT, transferSyntaxes: [EXPLICIT_LE] }] }), 'NET_ASSOCIATION', /accepted none .*transfer syntaxes not supported/);
    await served;
  });

  it('decodes a rejection in words: wrong called AE title', async () => {
    const { a, b } = memoryTransportPair();
    const scp = createStoreScpHandler({ aeTitle: 'STORESCP', storageDir: dir });
    const served = scp.serve(b);
    const e = await expectCode(echo(peer(a, { calledAE: 'NOBODY' })), 'NET_ASSOCIATION', /called AE title not recognized/);
    expect(e.data).toMatchObject({ rejectResult: 1, rejectSource: 1, rejectReason: 7 });
    await served;
    expect(scp.stats.rejected).toBe(1);
  });

  it('refuses invalid AE titles before connecting', async () => {
    let connected = false;
    const connect = async (): Promise<Transport> => {
      connected = true;
      return memoryTransportPair().a;
    };
    await expectCode(echo({ ...peer(memoryTransportPair().a), callingAE: 'A-VERY-LONG-AE-TITLE', connect }), 'USAGE', /calling AE title/);
    await expectCode(echo({ ...peer(memoryTransportPair().a), calledAE: 'A\\B', connect }), 'USAGE', /called AE title/);
    expect(connected).toBe(false);
  });

  it('times out (ARTIM) when the peer never answers', async () => {
    const { a } = memoryTransportPair();
    const t0 = Date.now();
    await expectCode(echo(peer(a, { timeoutMs: 300 })), 'NET_TIMEOUT', /A-ASSOCIATE-AC \(ARTIM\)/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('refuses a peer that is not a DICOM upper layer (NET_PROTOCOL) and aborts', async () => {
    const { a, b } = memoryTransportPair();
    const fake = (async () => {
      await readPdu(b);
      await b.write(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
      return readPdu(b);
    })();
    await expectCode(echo(peer(a)), 'NET_PROTOCOL', /unknown PDU type 0x48/);
    expect(await fake).toEqual({ type: 'A-ABORT', source: 2, reason: 1 });
  });

  it('reports an A-ABORT answer as NET_ASSOCIATION', async () => {
    const { a, b } = memoryTransportPair();
    void (async () => {
      await readPdu(b);
      await b.write(encodePdu({ type: 'A-ABORT', source: 2, reason: 0 }));
    })();
    await expectCode(echo(peer(a)), 'NET_ASSOCIATION', /aborted by the peer upper layer/);
  });

  it('refuses an AC accepting a transfer syntax that was not proposed', async () => {
    const { a, b } = memoryTransportPair();
    void (async () => {
      const rq = (await readPdu(b)) as AssociateRq;
      await b.write(
        encodePdu({
          type: 'A-ASSOCIATE-AC',
          protocolVersion: 1,
          calledAE: rq.calledAE,
          callingAE: rq.callingAE,
          applicationContext: rq.applicationContext,
          presentationContexts: [{ id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2.4.50' }],
          userInformation: { maxPduLength: 16384 },
        }),
      );
    })();
    await expectCode(echo(peer(a)), 'NET_PROTOCOL', /not proposed/);
  });

  it('maps the SCP status to a result (B000 coercion, A700 with comment)', async () => {
    for (const [status, comment, expected] of [
      [0xb000, undefined, { status: 0xb000, category: 'warning', meaning: 'B000 coercion of data elements' }],
      [0xa700, 'disk full', { status: 0xa700, category: 'failure', meaning: 'A700 out of resources', errorComment: 'disk full' }],
    ] as const) {
      const { a, b } = memoryTransportPair();
      const fakeScp = (async () => {
        const assoc = await Association.accept(b, (rq) => ({ contexts: rq.presentationContexts.map((pc) => ({ id: pc.id, result: PC_RESULT.ACCEPTANCE, transferSyntax: pc.transferSyntaxes[0]! })) }));
        const got = await receiveCommand(assoc!);
        if (got === 'release') throw new Error('release');
        await receiveDataSet(assoc!, got.contextId, () => undefined);
        const rsp = encodeCommand({
          commandField: COMMAND_FIELD.C_STORE_RSP,
          messageIdBeingRespondedTo: got.command.messageId!,
          hasDataSet: false,
          status,
          ...(comment ? { errorComment: comment } : {}),
        });
        await assoc!.sendFragmented(got.contextId, true, rsp);
        expect(await receiveCommand(assoc!)).toBe('release');
        await assoc!.acceptRelease();
      })();
      const session = await openStoreSession({ ...peer(a), contexts: [{ sopClassUID: CT, transferSyntaxes: [EXPLICIT_LE] }] });
      expect(await session.store(1, CT, '1.2.3', [Buffer.alloc(100)], 100)).toEqual(expected);
      await session.release();
      await fakeScp;
    }
  });

  it('aborts when the data set source yields fewer bytes than announced', async () => {
    const { a, b } = memoryTransportPair();
    const scp = createStoreScpHandler({ aeTitle: 'STORESCP', storageDir: dir });
    const served = scp.serve(b);
    const session = await openStoreSession({ ...peer(a), contexts: [{ sopClassUID: CT, transferSyntaxes: [EXPLICIT_LE] }] });
    await expectCode(session.store(1, CT, '1.2.3.99', [Buffer.alloc(10)], 20), 'INTERNAL', /yields 10 bytes, 20 were announced/);
    await served;
    expect(scp.stats.errors.join('\n')).toMatch(/aborted/);
    expect(readdirSync(dir).filter((n) => n.includes('1.2.3.99'))).toEqual([]);
  });

  it('SCP: a hostile SOP Instance UID never names a file', async () => {
    const { a, b } = memoryTransportPair();
    const scp = createStoreScpHandler({ aeTitle: 'STORESCP', storageDir: dir });
    const served = scp.serve(b);
    const session = await openStoreSession({ ...peer(a), contexts: [{ sopClassUID: CT, transferSyntaxes: [EXPLICIT_LE] }] });
    const r = await session.store(1, CT, '../../../tmp/evil', [Buffer.alloc(10)], 10);
    expect(r).toMatchObject({ status: 0xc000, category: 'failure', meaning: 'C000 cannot understand', errorComment: 'invalid Affected SOP Instance UID' });
    await session.release();
    await served;
    expect(readdirSync(dir).some((n) => n.includes('evil'))).toBe(false);
  });

  it('SCP: a data set fragment where a command is expected aborts that association only', async () => {
    const { a, b } = memoryTransportPair();
    const scp = createStoreScpHandler({ aeTitle: 'STORESCP', storageDir: dir });
    const served = scp.serve(b);
    const assoc = await Association.request(a, {
      callingAE: 'HOSTILE',
      calledAE: 'STORESCP',
      presentationContexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] }],
    });
    await assoc.sendPdv(1, false, true, [Buffer.alloc(8)]);
    await expectCode(assoc.nextPdv(), 'NET_ASSOCIATION', /aborted by the peer upper layer/);
    await served;
    expect(scp.stats.errors.at(-1)).toMatch(/data set fragment came where a command set was expected/);
  });

  it('SCP: ARTIM closes a connection that never sends an A-ASSOCIATE-RQ', async () => {
    const { b } = memoryTransportPair();
    const scp = createStoreScpHandler({ aeTitle: 'STORESCP', storageDir: dir, timeoutMs: 200 });
    await scp.serve(b);
    expect(scp.stats.errors.at(-1)).toMatch(/A-ASSOCIATE-RQ \(ARTIM\)/);
  });
});
