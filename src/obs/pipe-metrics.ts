import type { Meta, PipeStatus, UpdatePipe } from '../pipe/update-pipe.js';
import type { Metrics } from './metrics.js';

export interface PipeGauge {
  /** Call for each update a handler receives: end-to-end latency from the envelope's push time. */
  observe: (meta: Meta) => void;
  /** Connected (or owning the socket) now, as the pipe's status events last said. */
  connected: () => boolean;
}

/** Exposes one pipe's counters and connection state as metrics; see `PipeGauge`. */
export function instrumentPipe(m: Metrics, pipe: UpdatePipe, side: string): PipeGauge {
  const label = { pipe: side };
  const stat = (k: keyof ReturnType<UpdatePipe['stats']>) => () => pipe.stats()[k];
  m.add('updatepipe_pushed_total', 'counter', 'Updates pushed or forwarded into the pipe', stat('pushed'), label);
  m.add('updatepipe_delivered_total', 'counter', 'Updates handed to the handler', stat('delivered'), label);
  m.add('updatepipe_deduped_total', 'counter', 'Copies dropped before the handler', stat('duplicates'), label);
  m.add('updatepipe_gaps_total', 'counter', 'Holes in an origin sequence counted as lost', stat('gaps'), label);
  m.add('updatepipe_resyncs_total', 'counter', 'Resyncs the pipe produced', stat('resyncs'), label);
  m.add('updatepipe_rejected_total', 'counter', 'Bad frames or messages rejected', stat('rejected'), label);
  let connected = 0;
  pipe.on('status', (s: PipeStatus) => {
    if (s.type === 'connected' || s.type === 'owner') connected = 1;
    if (s.type === 'disconnected') connected = 0;
  });
  m.add('updatepipe_connected', 'gauge', 'Whether the pipe is connected (1) or reconnecting (0)', () => connected, label);
  const latency = m.histogram('updatepipe_latency_seconds', 'Push to handler latency, from the envelope timestamp');
  return {
    observe: (meta) => {
      if (meta.reason === undefined) latency.observe((Date.now() - meta.ts) / 1000);
    },
    connected: () => connected === 1,
  };
}
