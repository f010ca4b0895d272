/**
 * The store session (src/net/client.ts) against the faulty peer, without the import pipeline: what is
 * an acknowledgement and what is not, and that every wait is bounded as a whole (a peer trickling
 * PDUs does not restart the DIMSE or ARTIM timer). And our own Storage SCP (src/net/server.ts) against
 * a requestor that trickles empty command fragments: the SCP's DIMSE timeout bounds the whole command.
 */
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStoreSession, type StoreSession } from '../../src/net/client.js';
import { encodePdu, PduFramer } from '../../src/net/pdu.js';
import { startStoreScp } from '../../src/net/server.js';
import { startFaultyPeer, type FaultyPeer, type FaultyPeerOptions } from './faulty-peer.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const UID = '1.2.826.0.1.3680043.10.999.1';
const TIMEOUT_MS = 300;

describe('store session against a faulty peer', () => {
  const peers: FaultyPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.close();
  });

  const session = async (options: FaultyPeerOptions): Promise<{ peer: FaultyPeer; s: StoreSession }> => {
    const peer = await startFaultyPeer(options);
    peers.push(peer);
    const s = await openStoreSession({ host: '127.0.0.1', port: peer.port, callingAE: 'DCMSAFE', calledAE: 'PACS', timeoutMs: TIMEOUT_MS, contexts: [{ sopClassUID: CT, transferSyntaxes: [EXPLICIT_LE] }] });
    return { peer, s };
  };
  const store = (s: StoreSession): Promise<unknown> => s.store(s.accepted(CT)[0]!.contextId, CT, UID, [Buffer.alloc(10_000, 7)], 10_000);

  it('a response naming another SOP Class UID is no acknowledgement: NET_PROTOCOL, association aborted', async () => {
    const { peer, s } = await session({ onStore: () => ({ kind: 'wrong-sop-class' }) });
    await expect(store(s)).rejects.toMatchObject({ code: 'NET_PROTOCOL', message: `C-STORE-RSP names SOP class 1.2.840.10008.5.1.4.1.1.4, not ${CT}` });
    expect(peer.log[0]).toMatchObject({ sopInstanceUID: UID, complete: true });
  });

  it('empty command fragments trickling in every 50 ms do not restart the DIMSE timeout: NET_TIMEOUT after it, not never', async () => {
    const { s } = await session({ onStore: () => ({ kind: 'trickle', everyMs: 50 }) });
    const started = performance.now();
    await expect(store(s)).rejects.toMatchObject({ code: 'NET_TIMEOUT', message: `no answer from the peer within ${TIMEOUT_MS} ms (waiting for the C-STORE-RSP)` });
    const ms = performance.now() - started;
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(ms).toBeLessThan(TIMEOUT_MS + 700);
  }, 10_000);

  it('P-DATA-TF trickling in after our A-RELEASE-RQ does not restart ARTIM: the release fails after it', async () => {
    const { s } = await session({ release: 'trickle' });
    await expect(store(s)).resolves.toMatchObject({ status: 0, category: 'success' });
    const started = performance.now();
    await expect(s.release()).rejects.toMatchObject({ code: 'NET_TIMEOUT', message: `no answer from the peer within ${TIMEOUT_MS} ms (waiting for A-RELEASE-RP (ARTIM))` });
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 700);
  }, 10_000);

  it('a success status is an acknowledgement; a failure status is a result, the association goes on', async () => {
    let n = 0;
    const { peer, s } = await session({ onStore: () => ({ kind: 'status', status: ++n === 1 ? 0xa700 : 0xb000 }) });
    await expect(store(s)).resolves.toMatchObject({ status: 0xa700, category: 'failure', meaning: 'A700 out of resources' });
    await expect(store(s)).resolves.toMatchObject({ status: 0xb000, category: 'warning', meaning: 'B000 coercion of data elements' });
    await s.release();
    expect(peer.associations).toBe(1);
    expect(peer.acknowledged()).toEqual([UID]);
  });
});

describe('our Storage SCP against a requestor that trickles empty command fragments', () => {
  it('aborts the association once its DIMSE timeout has passed since the command began', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dcmsafe-scp-trickle-'));
    const scp = await startStoreScp({ port: 0, aeTitle: 'SCP', storageDir: dir, timeoutMs: TIMEOUT_MS });
    const socket = net.connect(scp.port, '127.0.0.1');
    try {
      const framer = new PduFramer({ maxPDataLength: 1 << 20 });
      const pdus: string[] = [];
      let closedAt = 0;
      socket.on('data', (b: Buffer) => {
        framer.push(b);
        for (let pdu = framer.next(); pdu; pdu = framer.next()) pdus.push(pdu.type);
      });
      const closed = new Promise<void>((resolve) => socket.on('close', () => ((closedAt = performance.now()), resolve())));
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(
        encodePdu({
          type: 'A-ASSOCIATE-RQ',
          protocolVersion: 1,
          calledAE: 'SCP',
          callingAE: 'TRICKLE',
          applicationContext: '1.2.840.10008.3.1.1.1',
          presentationContexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] }],
          userInformation: { maxPduLength: 16384 },
        }),
      );
      while (pdus.length === 0) await new Promise((r) => setTimeout(r, 5));
      expect(pdus[0]).toBe('A-ASSOCIATE-AC');
      const started = performance.now();
      const empty = encodePdu({ type: 'P-DATA-TF', pdvs: [{ contextId: 1, command: true, last: false, data: Buffer.alloc(0) }] });
      const timer = setInterval(() => socket.writable && socket.write(empty), 50);
      await closed;
      clearInterval(timer);
      expect(closedAt - started).toBeLessThan(TIMEOUT_MS + 700);
      expect(pdus).toContain('A-ABORT');
      expect(scp.stats.errors.some((e) => e.includes(`within ${TIMEOUT_MS} ms`))).toBe(true);
    } finally {
      socket.destroy();
      await scp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 10_000);
});
