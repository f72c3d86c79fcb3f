// The demo's data: the Palmer penguins (344 birds, 3 species) as the vega-datasets npm package ships
// them. Features go over the wire in a fixed order; a body mass of 0 is what the field scale sends when
// it is broken (the demo's live traffic has such readings; the curated holdout has none).
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { seeded } from '../../src/shared/random';

export const FEATURES = ['beak length (mm)', 'beak depth (mm)', 'flipper length (mm)', 'body mass (g)'] as const;
export const SPECIES = ['Adelie', 'Chinstrap', 'Gentoo'] as const;

export interface Penguin {
  features: [number, number, number, number];
  species: (typeof SPECIES)[number];
  island: string;
  sex: string;
}

const Raw = z.array(
  z.object({
    Species: z.enum(SPECIES),
    Island: z.string(),
    'Beak Length (mm)': z.number().nullable(),
    'Beak Depth (mm)': z.number().nullable(),
    'Flipper Length (mm)': z.number().nullable(),
    'Body Mass (g)': z.number().nullable(),
    Sex: z.string().nullable(),
  }),
);

/** The package root, found from its entry point (its `exports` do not list the data files). */
function datasetFile(): string {
  let dir = path.dirname(require.resolve('vega-datasets'));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return path.join(dir, 'data', 'penguins.json');
}

/** The complete rows (333 of 344), in the package's order. */
export function loadPenguins(): Penguin[] {
  return Raw.parse(JSON.parse(fs.readFileSync(datasetFile(), 'utf8')))
    .filter((r) => r['Beak Length (mm)'] !== null && r['Beak Depth (mm)'] !== null && r['Flipper Length (mm)'] !== null && r['Body Mass (g)'] !== null && r.Sex !== null && r.Sex !== '.')
    .map((r) => ({
      features: [r['Beak Length (mm)'], r['Beak Depth (mm)'], r['Flipper Length (mm)'], r['Body Mass (g)']] as Penguin['features'],
      species: r.Species,
      island: r.Island,
      sex: r.Sex as string,
    }));
}

/** A seeded, stratified-enough split: a shuffled 70% to train, 30% held out. */
export function split(rows: Penguin[], seed = 42): { train: Penguin[]; holdout: Penguin[] } {
  const random = seeded(seed);
  const shuffled = rows.map((r) => ({ r, k: random() })).sort((a, b) => a.k - b.k).map(({ r }) => r);
  const cut = Math.round(shuffled.length * 0.7);
  return { train: shuffled.slice(0, cut), holdout: shuffled.slice(cut) };
}
