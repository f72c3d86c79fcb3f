// The desired state of one model's route: what a release asks a router for, and what a router reads
// back. The one definition: the workflow and the activities use its type (RouteSpec), the gateway
// validates its admin API with it. Imports nothing but zod and siblings, so it bundles into workflow code.
import { z } from 'zod';
import { TrafficMode } from './manifest';

export const RouteSchema = z.strictObject({
  model: z.string().min(1),
  /** Idempotent: tagged with the release and a generation. */
  releaseId: z.string().min(1),
  /** Increases with every change a release makes; a router ignores a generation it has already passed. */
  generation: z.number().int().min(0),
  mode: TrafficMode,
  /** Served variants; weights are percentages summing to 100. A weight of 0 keeps a variant warm. */
  variants: z
    .array(z.strictObject({ version: z.string().min(1), weight: z.number().min(0).max(100) }))
    .min(1)
    .refine((vs) => Math.abs(vs.reduce((a, v) => a + v.weight, 0) - 100) < 1e-9, 'weights must sum to 100')
    .refine((vs) => new Set(vs.map((v) => v.version)).size === vs.length, 'a version may appear once'),
  /** Mirrored, never served. */
  shadow: z.strictObject({ version: z.string().min(1), sampleRate: z.number().gt(0).max(1) }).nullable(),
});
export type RouteSpec = z.infer<typeof RouteSchema>;

/**
 * A model's route before any release: all traffic on its champion, as generation 0 of the `bootstrap`
 * release, which any release's first change supersedes.
 */
export function bootstrapRoute(model: string, champion: string): RouteSpec {
  return { model, releaseId: 'bootstrap', generation: 0, mode: 'weighted', variants: [{ version: champion, weight: 100 }], shadow: null };
}
