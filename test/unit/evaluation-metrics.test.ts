import { primaryMetric } from '../../src/adapters/oip-evaluator';

describe('the offline evaluation metrics', () => {
  it('accuracy counts exact matches; a failed prediction is wrong', () => {
    expect(primaryMetric('accuracy', ['a', 'b', 'a', 'b'], ['a', 'b', 'b', undefined])).toBe(0.5);
  });
  it('f1 is the macro average of per-class F1 (sklearn f1_score average="macro")', () => {
    expect(primaryMetric('f1', ['a', 'a', 'b', 'b'], ['a', 'b', 'b', 'b'])).toBeCloseTo((2 / 3 + 0.8) / 2, 10);
  });
  it('auc is the rank statistic on scores, ties counted half (sklearn roc_auc_score)', () => {
    expect(primaryMetric('auc', [1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1])).toBe(0.75);
    expect(primaryMetric('auc', ['yes', 'no'], [0.5, 0.5])).toBe(0.5);
    // A missing score counts against the model.
    expect(primaryMetric('auc', [1, 0], [undefined, 0.2])).toBe(0);
    expect(primaryMetric('auc', [1, 1], [0.3, 0.2])).toBeNaN();
  });
  it('rmse is over numeric predictions; a failed one costs the labels’ whole spread', () => {
    expect(primaryMetric('rmse', [1, 2, 3], [1, 2, 5])).toBeCloseTo(Math.sqrt(4 / 3), 10);
    expect(primaryMetric('rmse', [1, 3], [1, undefined])).toBeCloseTo(Math.sqrt(2), 10);
  });
});
