// A free loopback port, for processes a test, benchmark or setup starts on its own ports.
import net from 'node:net';

/**
 * A free loopback port below 32768: Temporal stores membership ports in a PostgreSQL smallint, and the
 * system's ephemeral range (where freePort draws) lies above it.
 */
export async function freeLowPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const s = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => r(true));
    });
    if (ok) {
      await new Promise((r) => s.close(r));
      return port;
    }
  }
  throw new Error('no free port between 20000 and 32000');
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
