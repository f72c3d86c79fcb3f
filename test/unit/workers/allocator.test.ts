// The worker names its malloc at start: jemalloc when preloaded (the image, docker-compose.yml and
// npm run prod-stack), else glibc's. Read from the libraries mapped into the process.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { allocatorOf } from '../../../src/workers/allocator';
import { findJemalloc } from '../../../support/prod-stack';

const LIBC = '7f00073d3000-7f0007529000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6';
const JEMALLOC = '7f1a2b000000-7f1a2b0a0000 r-xp 00004000 fe:00 411                        /usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

it('names the allocator from memory maps: jemalloc when mapped, else glibc, else unknown', () => {
  expect(allocatorOf([LIBC, JEMALLOC].join('\n'))).toBe('jemalloc');
  expect(allocatorOf(`${LIBC}\n`)).toBe('glibc');
  expect(allocatorOf('7f00-7f01 r-xp 0 fe:00 1 /lib/libc-2.31.so')).toBe('glibc');
  // Upgraded on disk while mapped: still the library the process runs on.
  expect(allocatorOf(`${LIBC}\n${JEMALLOC} (deleted)`)).toBe('jemalloc');
  expect(allocatorOf(`${LIBC} (deleted)`)).toBe('glibc');
  // A file that only mentions the names is not the library.
  expect(allocatorOf('7f00-7f01 r--p 0 fe:00 1 /data/libjemalloc.so.2.notes\n7f00-7f01 r-xp 0 fe:00 2 /lib/ld-musl-x86_64.so.1')).toBe('unknown');
});

it('given jemalloc preloaded into a process, then that process reads jemalloc; without it, glibc', () => {
  const lib = findJemalloc();
  // npm test's pretest installs Debian's libjemalloc2.
  expect(lib).not.toBeNull();
  const read = (env: NodeJS.ProcessEnv) =>
    execFileSync(process.execPath, ['-r', '@swc-node/register', '-e', "process.stdout.write(require('./src/workers/allocator').currentAllocator())"], {
      cwd: path.resolve(__dirname, '../../..'),
      env,
      encoding: 'utf8',
    });
  const without = { ...process.env };
  delete without.LD_PRELOAD;
  expect(read({ ...without, LD_PRELOAD: lib as string })).toBe('jemalloc');
  expect(read(without)).toBe('glibc');
});
