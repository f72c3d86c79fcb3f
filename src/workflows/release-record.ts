// The release's full record, out of the workflow through a sink: every timeline entry and every gate
// measurement as the release made it, before the timeline's bounds merge or trim them. A sink call is not
// a command, so it changes no history and needs no patch; releases recorded before it replay into it too.
//
// Live workers register it as a no-op. `rollout history --format html` replays each run's history with
// a collecting sink (callDuringReplay), which is how the report shows every check of a 72-hour watch.
import { proxySinks, type Sinks } from '@temporalio/workflow';
import type { GateResult } from '../domain/gates';
import type { TimelineEntry } from '../domain/release';

export type ReleaseEvent =
  | { kind: 'entry'; entry: TimelineEntry }
  | { kind: 'measurement'; at: string; step: number; results: GateResult[] };

export interface ReleaseRecordSinks extends Sinks {
  releaseRecord: { record(event: ReleaseEvent): void };
}

const { releaseRecord } = proxySinks<ReleaseRecordSinks>();

export function record(event: ReleaseEvent): void {
  releaseRecord.record(event);
}
