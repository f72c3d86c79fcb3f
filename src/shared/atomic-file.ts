// State files that survive a crash mid-write: write a temporary file, fsync it, rename it over the old.
import fs from 'node:fs';
import path from 'node:path';

const tmpOf = (file: string) => `${file}.${process.pid}.tmp`;
let asyncWrites = 0;

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

/** The same, off the event loop (a worker's activities and workflow activations share it). Returns the text written. */
export async function writeJsonAtomicAsync(file: string, data: unknown): Promise<string> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  // Two async writers of one file in one process must not share a temporary file.
  const tmp = `${tmpOf(file)}.${++asyncWrites}`;
  const text = JSON.stringify(data);
  try {
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    // A failed write (a full disk, say) leaves no temporary file behind to fill it further.
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  return text;
}
