// State files that survive a crash mid-write: write a temporary file, fsync it, rename it over the old.
import fs from 'node:fs';
import path from 'node:path';

const tmpOf = (file: string) => `${file}.${process.pid}.tmp`;

export function writeJsonAtomic(file: string, data: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tmpOf(file);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, JSON.stringify(data));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * The same, off the event loop: a worker's activities and workflow activations share that loop. Returns
 * what was written's stat (a rename keeps inode, size and mtime), so a reader can tell it from a later write.
 */
export async function writeJsonAtomicAsync(file: string, data: unknown): Promise<fs.Stats> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = tmpOf(file);
  const fh = await fs.promises.open(tmp, 'w');
  let written: fs.Stats;
  try {
    await fh.writeFile(JSON.stringify(data));
    await fh.sync();
    written = await fh.stat();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
  return written;
}
