// Runs the cheap layers first, so a broken unit fails fast before any server starts.
const Sequencer = require('@jest/test-sequencer').default;

const LAYERS = ['unit', 'workflows', 'integration', 'production'];
const layerOf = (test) => {
  const i = LAYERS.indexOf(test.context.config.displayName?.name);
  return i < 0 ? LAYERS.length : i;
};

class LayerSequencer extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => layerOf(a) - layerOf(b) || a.path.localeCompare(b.path));
  }
}

module.exports = LayerSequencer;
