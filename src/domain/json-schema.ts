import { z } from 'zod';
import { API_VERSION, ReleaseManifestSchema } from './manifest';

/** The manifest's JSON Schema, as users write it (durations as strings, defaults omitted). */
export function manifestJsonSchema(): Record<string, unknown> {
  return {
    $id: `https://model-rollout.dev/schema/${API_VERSION.replace('/', '-')}/release-manifest.json`,
    title: 'model-rollout release manifest',
    ...z.toJSONSchema(ReleaseManifestSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
