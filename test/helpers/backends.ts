// The real backends tests start (Prometheus, MLflow) live in support/, shared with the demo.
export { freePort, startMlflow, startPrometheus, type Backend } from '../../support/backends';
