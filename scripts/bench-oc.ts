// Benchmark: operating characteristics of the standard preset by Monte Carlo, with sampling noise, for
// the anytime-valid gates beside the fixed-horizon per-look z-tests they replace, in the same run.
//   npm run bench:oc                       200 runs per case and policy, seed 1
//   npm run bench:oc -- --runs 500 --seed 7
// Each case is a release of examples/standard.yaml's shape with the domain's defaults (shadow 48 h, 5/25/
// 50% bakes of 24 h measured every 5 min, 72 h watch), at 1,000 and at 100 requests a minute.
import { parseManifest } from '../src/domain/manifest';
import { operatingCharacteristics, type OperatingCharacteristics, type Policy } from '../src/simulate/montecarlo';
import { parseScenario, type Scenario } from '../src/simulate/scenario';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('runs', 200);
const SEED = arg('seed', 1);
const only = process.argv.includes('--case') ? process.argv[process.argv.indexOf('--case') + 1] : undefined;

const manifest = parseManifest({ apiVersion: 'model-rollout/v1', kind: 'Release', model: 'bench', candidate: 'v2', champion: 'v1' });
const HEALTHY = { errorRate: 0.01, successRate: 0.3, p99Ms: 80 };
// The 5% bake begins when the 48 h shadow ends; the watch when the three 24 h bakes have.
const BAKE_5_START = 48;
const WATCH_START = 48 + 72;

interface Case {
  name: string;
  target: string;
  scenario: (rpm: number) => unknown;
  /** What the target reads from the result, for the table. */
  report: (oc: OperatingCharacteristics) => string;
}

const pct = (n: number, runs: number) => `${((100 * n) / runs).toFixed(1)}%`;
const min = (ms: number | undefined) => (ms === undefined ? '–' : `${Math.round(ms / 60_000)} min`);
const rollback = (oc: OperatingCharacteristics) => `P(rollback) ${pct(oc.rolledBack, oc.runs)}, held ${pct(oc.held, oc.runs)}`;

const CASES: Case[] = [
  {
    name: 'identical candidate',
    target: 'P(rollback) ≤ 5%',
    scenario: (rpm) => ({ requestsPerMinute: rpm }),
    report: rollback,
  },
  {
    name: 'identical, ±10% daily cycle (business, errors)',
    target: 'P(rollback) ≤ 5%',
    scenario: (rpm) => ({ requestsPerMinute: rpm, dailyCycle: { amplitude: 0.1 } }),
    report: rollback,
  },
  {
    name: 'candidate at the tolerances (errors +0.5 pts, business −2%)',
    target: 'P(rollback) ≤ 5% (the budget’s worst case)',
    scenario: (rpm) => ({ requestsPerMinute: rpm, candidate: [{ ...HEALTHY, errorRate: 0.015, successRate: 0.294 }] }),
    report: rollback,
  },
  {
    name: 'error rate 1% → 3% from the start',
    target: 'median ≤ 30 min into the 5% stage',
    scenario: (rpm) => ({ requestsPerMinute: rpm, candidate: [{ ...HEALTHY, errorRate: 0.03 }] }),
    report: (oc) => `caught ${pct(oc.rolledBack, oc.runs)}; ${oc.caught['bake 5% / error-rate'] ?? 0} at 5%/error-rate; into stage p50 ${min(oc.intoStageMs?.p50)} (p90 ${min(oc.intoStageMs?.p90)})`,
  },
  {
    name: 'business 30% → 27% from the start',
    target: 'rolled back before 100% in ≥ 95%',
    scenario: (rpm) => ({ requestsPerMinute: rpm, candidate: [{ ...HEALTHY, successRate: 0.27 }] }),
    report: (oc) => `before 100%: ${pct(oc.rolledBackBeforeFull, oc.runs)}; into stage p50 ${min(oc.intoStageMs?.p50)}; ${topCaught(oc)}`,
  },
  {
    name: 'error rate 1% → 4% from hour 12 of the 5% bake',
    target: 'median ≤ 15 min after onset',
    scenario: (rpm) => ({ requestsPerMinute: rpm, candidate: [{ at: `${BAKE_5_START + 12}h`, errorRate: 0.04 }] }),
    report: (oc) => `caught ${pct(oc.rolledBack, oc.runs)}; after onset p50 ${min(oc.delayAfterOnsetMs?.p50)} (p10 ${min(oc.delayAfterOnsetMs?.p10)}, p90 ${min(oc.delayAfterOnsetMs?.p90)}); ${topCaught(oc)}`,
  },
  {
    name: 'error rate 1% → 3% from hour 70 of the watch',
    target: 'median ≤ 15 min after onset',
    scenario: (rpm) => ({ requestsPerMinute: rpm, candidate: [{ at: `${WATCH_START + 70}h`, errorRate: 0.03 }] }),
    report: (oc) => `caught ${pct(oc.rolledBack, oc.runs)}; after onset p50 ${min(oc.delayAfterOnsetMs?.p50)} (p10 ${min(oc.delayAfterOnsetMs?.p10)}, p90 ${min(oc.delayAfterOnsetMs?.p90)}); ${topCaught(oc)}`,
  },
];

function topCaught(oc: OperatingCharacteristics): string {
  const [top] = Object.entries(oc.caught).sort((a, b) => b[1] - a[1]);
  return top ? `mostly ${top[0]} (${top[1]})` : 'none caught';
}

function main(): void {
  const t0 = Date.now();
  console.log(`Operating characteristics of the standard preset: ${RUNS} runs per case and policy, seed ${SEED}\n`);
  for (const rpm of [1000, 100]) {
    console.log(`## ${rpm.toLocaleString('en')} requests/min\n`);
    console.log('| case | target (at 1,000/min) | anytime-valid (today) | per-look z-test (before) |');
    console.log('|---|---|---|---|');
    for (const c of CASES) {
      if (only && !c.name.includes(only)) continue;
      const sc: Scenario = parseScenario(c.scenario(rpm));
      const run = (policy: Policy) => operatingCharacteristics(manifest, sc, { runs: RUNS, seed: SEED, policy });
      const seq = run('sequential');
      const old = run('fixed-horizon');
      console.log(`| ${c.name} | ${c.target} | ${c.report(seq)} | ${c.report(old)} |`);
    }
    console.log('');
  }
  console.log(`wall ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main();
