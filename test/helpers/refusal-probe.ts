// A test's window on the activations a workflow refuses: bundled before the workflows' own interceptors,
// it sees what they throw, and passes the message to the `probe` sink, which a replay worker calls too.
import { proxySinks, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export interface ProbeSinks extends Sinks {
  probe: { refused(message: string): void };
}

const { probe } = proxySinks<ProbeSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  internals: [
    {
      activate(input, next) {
        try {
          next(input);
        } catch (err) {
          probe.refused(err instanceof Error ? err.message : String(err));
          throw err;
        }
      },
    },
  ],
});
