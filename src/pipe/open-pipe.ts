import { PipeError } from '../errors.js';
import { defaultPipeUrl } from './default-url.js';
import type { PipeOptions, UpdatePipe } from './update-pipe.js';

/**
 * Opens the backend named by the URL scheme. Backends load on demand, so a CLI that only
 * pushes over a Unix socket never pays for NATS or WebSocket code.
 */
export async function openPipe(url: string = defaultPipeUrl(), options: PipeOptions = {}): Promise<UpdatePipe> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'unix': {
      const { UnixPipe } = await import('../../pipes/unix/unix-pipe.js');
      return new UnixPipe(url, options);
    }
    case 'nats':
    case 'tls': {
      const { openNatsPipe } = await import('../../pipes/nats/nats-pipe.js');
      return openNatsPipe(url, options);
    }
    case 'ws':
    case 'wss': {
      const { WsPipe } = await import('../../pipes/ws/ws-pipe.js');
      return new WsPipe(url, options);
    }
    default:
      throw new PipeError('USAGE', `unknown pipe URL ${JSON.stringify(url)}: expected unix:/path.sock, nats://host:port/prefix or ws://host:port/path`);
  }
}
