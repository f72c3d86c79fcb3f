// The one quantile definition every latency number uses, whichever provider measured it: the q-quantile
// is the smallest value x with at least q of the observations at or below x. On raw samples that is the
// nearest-rank quantile (the ⌈q·n⌉-th smallest). On a histogram only bucket bounds are known, so it is the
// upper bound of the bucket where the cumulative count first reaches q·n: never below the true quantile,
// at most one bucket above it. No interpolation: PromQL's histogram_quantile interpolates inside the
// bucket, which assumes requests spread evenly there and can report a p99 lower than any request's
// bucket would allow. Pure, so it bundles into workflow code.

/** A bucketed distribution: [upper bound, count], ascending bounds. */
export type Histogram = readonly (readonly [number, number])[];

/** The q-quantile of a histogram: the upper bound of the bucket it falls in; null when empty. */
export function histogramQuantile(h: Histogram, q: number): number | null {
  const total = h.reduce((s, [, c]) => s + c, 0);
  if (total === 0) return null;
  let seen = 0;
  for (const [bound, count] of h) {
    seen += count;
    if (seen >= q * total) return bound;
  }
  return (h.at(-1) as readonly [number, number])[0];
}

/** The q-quantile of samples by nearest rank: the ⌈q·n⌉-th smallest; null when there are none. */
export function sampleQuantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
}
