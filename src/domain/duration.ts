// Durations in manifests are strings such as "90s", "15m", "24h", "3d". They cross Temporal as numbers
// of milliseconds once parsed.
import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

export function parseDuration(text: string): number {
  const m = PATTERN.exec(text.trim());
  if (!m) throw new Error(`invalid duration "${text}": expected a number and a unit (ms, s, m, h, d), e.g. "24h"`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** The longest duration a manifest or scenario may give: a year. Longer ones are typos, and would overflow dates. */
export const MAX_DURATION_MS = 365 * UNIT_MS.d;

/** A duration string, parsed to milliseconds: from 0 to 365d. */
export const Duration = z
  .string()
  .max(32, 'a duration such as "24h" is a short string')
  .regex(PATTERN, 'expected a duration such as "30s", "15m", "24h" or "3d"')
  .transform(parseDuration)
  .refine((ms) => ms <= MAX_DURATION_MS, 'at most 365d');

/** A measurement interval: at least 1s, so a typo cannot make a workflow measure in a tight loop. */
export const Interval = Duration.refine((ms) => ms >= 1_000, 'at least 1s');

export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join(' ') || `${ms}ms`;
}
