import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { FileRegistry } from '../../../src/adapters/file-registry';
import { LogAndWebhookNotifier } from '../../../src/adapters/notifier';
import { createLogger } from '../../../src/logger';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'registry-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('file registry', () => {
  it('keeps aliases, outcomes and the last rollback across instances', async () => {
    const file = path.join(dir, 'registry.json');
    const a = new FileRegistry(file);
    await a.register('fraud', 'v1', true);
    await a.setAlias('fraud', 'challenger', 'v2');
    await a.recordOutcome('fraud', 'v2', { releaseId: 'r1', outcome: 'rolled-back', trigger: 'gate-breach', at: 1000 });
    await a.recordOutcome('fraud', 'v3', { releaseId: 'r2', outcome: 'promoted', at: 2000 });
    await a.archive('fraud', 'v1');
    const b = new FileRegistry(file);
    expect(await b.getAlias('fraud', 'champion')).toBe('v1');
    expect(await b.getAlias('fraud', 'challenger')).toBe('v2');
    expect(await b.lastRollbackAt('fraud')).toBe(1000);
    expect(await b.lastRollbackAt('other')).toBeNull();
    await b.setAlias('fraud', 'challenger', null);
    expect(await a.getAlias('fraud', 'challenger')).toBeNull();
    // A same-size hand edit in place is seen too: each instance compares the file's text, not its stat.
    const edited = JSON.parse(fs.readFileSync(file, 'utf8'));
    edited.models.fraud.aliases.champion = 'v9';
    fs.writeFileSync(file, JSON.stringify(edited));
    expect(await a.getAlias('fraud', 'champion')).toBe('v9');
    expect(await b.getAlias('fraud', 'champion')).toBe('v9');
  });

  it('serialises concurrent updates so none is lost', async () => {
    const r = new FileRegistry(path.join(dir, 'registry.json'));
    await Promise.all(Array.from({ length: 50 }, (_, i) => r.recordOutcome('m', `v${i}`, { releaseId: `r${i}`, outcome: 'aborted', at: i })));
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'registry.json'), 'utf8'));
    expect(Object.keys(state.models.m.versions)).toHaveLength(50);
    expect(state.models.m.rollbacks).toHaveLength(50);
  });
});

describe('notifier', () => {
  it('logs every notification and posts it to the release and worker webhooks; a failing hook is reported by host', async () => {
    const received: string[] = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(body);
        res.writeHead(req.url === '/broken' ? 500 : 200).end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(hook.address() as { port: number }).port}`;
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => void lines.push(l) });
    try {
      const n = new LogAndWebhookNotifier(logger, [`${base}/team`]);
      const msg = { releaseId: 'r1', model: 'fraud', candidate: 'v2', severity: 'critical' as const, title: 'Rolled back', text: 'error rate +3 pts' };
      await n.notify({ ...msg, webhooks: [`${base}/release`] });
      expect(received.map((b) => JSON.parse(b).text)).toEqual([':rotating_light: *Rolled back*\nerror rate +3 pts', ':rotating_light: *Rolled back*\nerror rate +3 pts']);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 50, msg: 'Rolled back', releaseId: 'r1', severity: 'critical' });
      await expect(n.notify({ ...msg, webhooks: [`${base}/broken`] })).rejects.toThrow(/^webhook failed: 127\.0\.0\.1:\d+ answered 500$/);
    } finally {
      hook.closeAllConnections();
      await new Promise((r) => hook.close(r));
    }
  });
});
