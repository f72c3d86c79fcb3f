// Which malloc the worker runs on, from the libraries mapped into it. The image, docker-compose.yml and
// `npm run prod-stack` preload jemalloc: on glibc's malloc, memory the SDK's core and the bridge free
// stays in the process (npm run bench:malloc: a workflow the worker caches costs 263-330 KiB of RSS on glibc,
// 197-262 of it outside V8, and 94-98 KiB on jemalloc; README, "What one worker carries"). The worker logs it
// at start.
import fs from 'node:fs';

export type Allocator = 'jemalloc' | 'glibc' | 'unknown';

/** The allocator named by a process's memory maps (the text of /proc/<pid>/maps). */
export function allocatorOf(maps: string): Allocator {
  // A library replaced on disk while mapped (a package upgrade) shows as `path (deleted)`.
  if (/\/libjemalloc\.so(\.\d+)*( \(deleted\))?$/m.test(maps)) return 'jemalloc';
  if (/\/libc(\.so\.6|-[\d.]+\.so)( \(deleted\))?$/m.test(maps)) return 'glibc';
  return 'unknown';
}

/** This process's allocator; `unknown` where there is no /proc (not Linux) or another libc (musl). */
export function currentAllocator(): Allocator {
  try {
    return allocatorOf(fs.readFileSync('/proc/self/maps', 'utf8'));
  } catch {
    return 'unknown';
  }
}
