// Small helpers the benchmarks share.

import { findJemalloc } from '../support/prod-stack';

export { freePort } from '../support/net';

/** jemalloc for a bench's `--malloc jemalloc`, or an error saying how to install it. */
export function requireJemalloc(): string {
  const lib = findJemalloc();
  if (!lib) throw new Error("--malloc jemalloc: no libjemalloc.so.2 found (Debian: apt-get install libjemalloc2; npm test's pretest installs it)");
  return lib;
}

/** Polls a URL until it answers 2xx. */
export async function waitHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
