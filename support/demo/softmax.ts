// Multinomial logistic regression, trained by full-batch gradient descent on standardised features:
// small, deterministic, and a real model. `features` picks which inputs a version uses; `missing`
// says how it reads a body mass of 0 (the broken scale): as missing, imputed with the training mean,
// or (the degraded version's preprocessing bug) as a real weight of 0 g.
import { SPECIES, type Penguin } from './penguins';

export interface ModelSpec {
  /** Indexes into the four features. */
  features: number[];
  missing: 'impute-mean' | 'literal';
  epochs?: number;
  learningRate?: number;
  l2?: number;
}

export interface TrainedModel {
  spec: ModelSpec;
  mean: number[];
  std: number[];
  /** weights[class][feature], bias last. */
  weights: number[][];
  predict(features: readonly number[]): (typeof SPECIES)[number];
}

const MASS = 3;

export function train(rows: Penguin[], spec: ModelSpec): TrainedModel {
  const f = spec.features;
  const xs = rows.map((r) => f.map((i) => r.features[i] as number));
  const mean = f.map((_, j) => xs.reduce((a, x) => a + (x[j] as number), 0) / xs.length);
  const std = f.map((_, j) => Math.sqrt(xs.reduce((a, x) => a + ((x[j] as number) - (mean[j] as number)) ** 2, 0) / xs.length) || 1);
  const z = xs.map((x) => [...x.map((v, j) => (v - (mean[j] as number)) / (std[j] as number)), 1]);
  const y = rows.map((r) => SPECIES.indexOf(r.species));
  const k = SPECIES.length;
  const d = f.length + 1;
  const w = Array.from({ length: k }, () => new Array<number>(d).fill(0));
  const lr = spec.learningRate ?? 0.5;
  const l2 = spec.l2 ?? 1e-3;
  for (let epoch = 0; epoch < (spec.epochs ?? 300); epoch++) {
    const grad = Array.from({ length: k }, () => new Array<number>(d).fill(0));
    z.forEach((x, n) => {
      const p = softmax(w.map((wc) => dot(wc, x)));
      p.forEach((pc, c) => {
        const err = pc - (c === y[n] ? 1 : 0);
        for (let j = 0; j < d; j++) (grad[c] as number[])[j]! += err * (x[j] as number);
      });
    });
    for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) (w[c] as number[])[j]! -= lr * ((grad[c] as number[])[j]! / z.length + (j < d - 1 ? l2 * (w[c] as number[])[j]! : 0));
  }
  const predict = (features: readonly number[]) => {
    const x = f.map((i, j) => {
      const v = features[i] as number;
      // The old pipeline's rule: the scale's 0 is a missing reading. The degraded version lost it.
      const value = i === MASS && v <= 0 && spec.missing === 'impute-mean' ? (mean[j] as number) : v;
      return (value - (mean[j] as number)) / (std[j] as number);
    });
    const scores = w.map((wc) => dot(wc, [...x, 1]));
    return SPECIES[scores.indexOf(Math.max(...scores))] as (typeof SPECIES)[number];
  };
  return { spec, mean, std, weights: w, predict };
}

export function accuracy(model: TrainedModel, rows: Penguin[]): number {
  return rows.filter((r) => model.predict(r.features) === r.species).length / rows.length;
}

function dot(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function softmax(s: number[]): number[] {
  const m = Math.max(...s);
  const e = s.map((v) => Math.exp(v - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}
