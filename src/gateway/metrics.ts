// The gateway's Prometheus exposition, through prom-client: label values are escaped by the library,
// every version's series start at zero when its backend is registered, and the output-distribution
// counter has a bounded label set.
import { Counter, Histogram, Registry } from 'prom-client';

/** Seconds; fine below 100 ms, where model latency gates live. */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10];

/** Distinct prediction labels kept per model; later ones count as OTHER_LABEL. */
export const MAX_LABELS_PER_MODEL = 50;
export const OTHER_LABEL = '__other__';

/**
 * Bounds the prediction labels of each model: the first MAX_LABELS_PER_MODEL distinct ones keep their
 * name, any later one counts as OTHER_LABEL. A classifier's classes fit; a regression's or a free-text
 * model's outputs would otherwise make one series per distinct answer. Shared by champion and
 * candidate, so a label the candidate invents late still moves the distribution (into OTHER_LABEL).
 */
export class LabelBudget {
  private readonly seen = new Map<string, Set<string>>();
  constructor(private readonly max = MAX_LABELS_PER_MODEL) {}

  label(model: string, label: string): string {
    let set = this.seen.get(model);
    if (!set) this.seen.set(model, (set = new Set()));
    if (set.has(label)) return label;
    if (set.size >= this.max) return OTHER_LABEL;
    set.add(label);
    return label;
  }
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'gateway_requests_total', help: 'Requests served, per model version and result.', labelNames: ['model', 'version', 'result'], registers: [this.registry] });
  private readonly predictions = new Counter({
    name: 'gateway_predictions_total',
    help: `Served predictions per label (the output distribution); at most ${MAX_LABELS_PER_MODEL} labels per model, the rest as ${OTHER_LABEL}.`,
    labelNames: ['model', 'version', 'label'],
    registers: [this.registry],
  });
  private readonly outcomes = new Counter({ name: 'gateway_outcomes_total', help: 'Ground-truth outcomes fed back, per served version.', labelNames: ['model', 'version', 'success'], registers: [this.registry] });
  private readonly shadow = new Counter({ name: 'gateway_shadow_requests_total', help: 'Mirrored requests per shadow version.', labelNames: ['model', 'version', 'result'], registers: [this.registry] });
  private readonly duration = new Histogram({ name: 'gateway_request_duration_seconds', help: 'Served request latency.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS_S, registers: [this.registry] });

  /**
   * Every version with a backend exports its counters from zero before its first request: Prometheus's
   * increase() counts only between samples, so a series born at 37 would lose those 37.
   */
  initSeries(model: string, version: string): void {
    for (const result of ['ok', 'error']) this.requests.inc({ model, version, result }, 0);
    for (const success of ['true', 'false']) this.outcomes.inc({ model, version, success }, 0);
    this.duration.zero({ model, version });
  }

  request(model: string, version: string, seconds: number, ok: boolean, label?: string): void {
    this.requests.inc({ model, version, result: ok ? 'ok' : 'error' });
    this.duration.observe({ model, version }, seconds);
    if (label !== undefined) this.predictions.inc({ model, version, label });
  }

  outcome(model: string, version: string, success: boolean): void {
    this.outcomes.inc({ model, version, success: String(success) });
  }

  shadowRequest(model: string, version: string, ok: boolean): void {
    this.shadow.inc({ model, version, result: ok ? 'ok' : 'error' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
