// How a rejected input is reported, everywhere (manifest, scenario, config, action payloads, the
// gateway's API, adapters' responses): each issue named by its field's path, and an unknown key by its
// own path, so a typo points at itself. Imports nothing but zod, so it bundles into workflow code.
import type { z } from 'zod';

export interface FieldIssue {
  /** `gates.latency.p99`, `plan[0].kind`; empty for the input itself. */
  path: string;
  message: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: formatPath([...i.path, k]), message: 'unknown field' }))
      : [{ path: formatPath(i.path), message: i.message }],
  );
}

/** One line: `path: message; path: message`, the input itself called `root`. */
export function describeIssues(error: z.ZodError, root: string): string {
  return fieldIssues(error)
    .map((i) => `${i.path || root}: ${i.message}`)
    .join('; ');
}
