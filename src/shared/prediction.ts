// The label a prediction counts under in an output distribution (shadow divergence, PSI): its first
// output element; fractional numbers to two decimals, so a regression's outputs fall into bins.
export function labelOf(outputs: readonly { data: readonly unknown[] }[]): string {
  const v = outputs[0]?.data[0];
  return typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v);
}
