import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** The admin token: from the environment, or generated once and kept beside the route table. */
export function gatewayToken(dataDir: string, given?: string): string {
  if (given) return given;
  const file = path.join(dataDir, 'gateway-token');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  fs.mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('hex');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}
