import net from 'node:net';
import { FRAME_HEADER, FrameDecoder } from '../../src/envelope/frame.js';
import { PipeError } from '../../src/errors.js';
import { HubLinkBase } from '../../src/hub/hub-link-base.js';
import { encodeHello, type Hello, type Welcome } from '../../src/hub/hub-protocol.js';
import { BatchWriter, PUSHER_FLUSH_BYTES } from './batch-writer.js';
import { connectError } from './socket-file.js';

const END_TIMEOUT_MS = 2_000;

/**
 * One client connection to the socket owner. Resolves `connect` only after the owner's
 * WELCOME, so a caller knows both that someone is listening and where its stream starts.
 */
export class OwnerLink extends HubLinkBase {
  protected readonly peer = 'owner';
  private readonly out: BatchWriter;
  private readonly decoder: FrameDecoder;

  private constructor(
    private readonly socket: net.Socket,
    maxFrame: number,
  ) {
    super();
    this.out = new BatchWriter(socket, PUSHER_FLUSH_BYTES);
    this.decoder = new FrameDecoder(maxFrame);
  }

  static connect(file: string, hello: Hello, maxFrame: number, timeoutMs: number): Promise<{ link: OwnerLink; welcome: Welcome }> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(file);
      const link = new OwnerLink(socket, maxFrame);
      let settled = false;
      const fail = (err: PipeError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new PipeError('TIMEOUT', `socket owner at unix:${file} did not answer in ${timeoutMs} ms`)), timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => fail(connectError(file, err)));
      socket.once('connect', () => {
        socket.setNoDelay?.(true);
        link.out.write(encodeHello(hello));
      });
      socket.on('close', () => {
        if (!settled) fail(new PipeError('NO_LISTENER', link.closeReason ?? `socket owner at unix:${file} closed the connection`));
        else link.closed();
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          link.decoder.pushAt(chunk, (kind, buf, start, end) => {
            if (settled) return link.onFrameAt(kind, buf, start, end);
            const welcome = link.handshake(kind, buf.subarray(start + FRAME_HEADER, end));
            if (!welcome) return;
            settled = true;
            clearTimeout(timer);
            resolve({ link, welcome });
          });
        } catch (err) {
          link.closeReason = (err as Error).message;
          link.events?.onRejected(link.closeReason);
          if (!settled) fail(err instanceof PipeError ? err : new PipeError('BAD_FRAME', String(err)));
          socket.destroy();
        }
      });
    });
  }

  send(frame: Buffer): void {
    this.out.write(frame);
  }

  /**
   * Everything pushed has settled by the time a pipe ends its link; an owner that stopped
   * reading (frozen, say) must not hold the close forever, as the owner does not wait on a
   * peer either.
   */
  end(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, END_TIMEOUT_MS).unref()));
    return Promise.race([this.out.end(), timeout]).then(() => {
      clearTimeout(timer);
      this.socket.destroy();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
