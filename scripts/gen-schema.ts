// Writes schema/release-manifest.schema.json from the zod schema (the single source of truth), for
// editors and other tools. A unit test fails when the committed file is stale:  npm run gen-schema
import fs from 'node:fs';
import path from 'node:path';
import { manifestJsonSchema } from '../src/domain/json-schema';

const out = path.resolve(__dirname, '../schema/release-manifest.schema.json');
fs.writeFileSync(out, `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
