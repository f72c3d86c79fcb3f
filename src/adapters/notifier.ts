// Notifications go to the log, always, and to Slack-compatible incoming webhooks. A webhook that fails
// fails the activity (retried); the workflow surfaces it and never lets it block a rollback.
import type { Logger } from '../logger';
import type { Notification, Notifier } from '../activities/ports';

const ICON = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' } as const;

export class LogAndWebhookNotifier implements Notifier {
  constructor(
    private readonly logger: Logger,
    private readonly webhooks: readonly string[],
    private readonly timeoutMs = 5_000,
  ) {}

  async notify(n: Notification): Promise<void> {
    const level = n.severity === 'critical' ? 'error' : n.severity === 'warning' ? 'warn' : 'info';
    this.logger[level]({ releaseId: n.releaseId, model: n.model, version: n.candidate, severity: n.severity, text: n.text }, n.title);
    const targets = [...new Set([...this.webhooks, ...(n.webhooks ?? [])])];
    const failures: string[] = [];
    await Promise.all(
      targets.map(async (url) => {
        try {
          const r = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text: `${ICON[n.severity]} *${n.title}*\n${n.text}` }),
            signal: AbortSignal.timeout(this.timeoutMs),
          });
          if (!r.ok) failures.push(`${new URL(url).host} answered ${r.status}`);
        } catch (err) {
          failures.push(`${new URL(url).host}: ${(err as Error).message}`);
        }
      }),
    );
    if (failures.length) throw new Error(`webhook failed: ${failures.join('; ')}`);
  }
}
