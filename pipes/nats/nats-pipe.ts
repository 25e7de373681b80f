import type { PipeOptions, UpdatePipe } from '../../src/pipe/update-pipe.js';
import { NatsCorePipe } from './core-pipe.js';
import { NatsJetStreamPipe } from './jetstream-pipe.js';
import { parseNatsUrl } from './nats-url.js';

/** `nats://…?mode=core|jetstream` → the matching pipe. */
export function openNatsPipe(url: string, options: PipeOptions = {}): UpdatePipe {
  const settings = parseNatsUrl(url);
  return settings.mode === 'jetstream' ? new NatsJetStreamPipe(url, settings, options) : new NatsCorePipe(url, settings, options);
}
