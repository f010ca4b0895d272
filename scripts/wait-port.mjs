// Waits until something accepts TCP connections on 127.0.0.1:PORT (servers started by tests and the bench).
import net from 'node:net';
import { setTimeout } from 'node:timers';

export async function waitPort(port, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
