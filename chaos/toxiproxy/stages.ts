/** Creates the stage for a toxic type; see `stage-base.ts` for the semantics every stage follows. */
import { type ChunkSink, NoopStage, type Stage, type StageEnv } from './stage-base.js';
import { LimitDataStage, ResetPeerStage, TimeoutStage } from './stages-closing.js';
import { BandwidthStage, LatencyStage, SlicerStage, SlowCloseStage } from './stages-timing.js';
import type { ToxicSpec } from './toxic-types.js';

export * from './stage-base.js';
export { slicePoints } from './stages-timing.js';

export function createStage(spec: ToxicSpec, next: ChunkSink, env: StageEnv): Stage {
  switch (spec.type) {
    case 'noop':
      return new NoopStage(spec, next, env);
    case 'latency':
      return new LatencyStage(spec, next, env);
    case 'bandwidth':
      return new BandwidthStage(spec, next, env);
    case 'slow_close':
      return new SlowCloseStage(spec, next, env);
    case 'timeout':
      return new TimeoutStage(spec, next, env);
    case 'reset_peer':
      return new ResetPeerStage(spec, next, env);
    case 'slicer':
      return new SlicerStage(spec, next, env);
    case 'limit_data':
      return new LimitDataStage(spec, next, env);
  }
}
