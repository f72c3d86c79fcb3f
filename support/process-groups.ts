// Detached process groups (servers a test, a drill or the demo starts) die with the process that started
// them, even when it exits without stopping them: a run cut short leaves no orphans behind.
import type { ChildProcess } from 'node:child_process';

const groups = new Set<number>();
process.once('exit', () => {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** Kills this detached child's process group if this process exits before the child does. */
export function killGroupOnExit(child: ChildProcess): void {
  const pid = child.pid;
  if (!pid) return;
  groups.add(pid);
  child.once('exit', () => groups.delete(pid));
}
