import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { PipeError } from '../errors.js';

export interface TlsFiles {
  /** PEM certificate chain (the server's certificate first). */
  cert: string;
  /** PEM private key. */
  key: string;
}

/** TLS 1.2 or newer (RFC 8996 retired 1.0 and 1.1; RFC 9051 §2.1 wants at least 1.2). */
export const MIN_TLS_VERSION = 'TLSv1.2';

/**
 * The server's certificate and key, loaded from files and loadable again (SIGHUP) without a
 * restart: connections made after `reload()` get the new certificate, open ones keep theirs.
 */
export class TlsCredentials {
  private current: { options: tls.SecureContextOptions; context: tls.SecureContext };
  private readonly listeners = new Set<(options: tls.SecureContextOptions) => void>();

  private constructor(
    private readonly files: TlsFiles,
    loaded: { options: tls.SecureContextOptions; context: tls.SecureContext },
  ) {
    this.current = loaded;
  }

  /** Fails with a USAGE error naming the file when a file is missing or the pair is unusable. */
  static async load(files: TlsFiles): Promise<TlsCredentials> {
    return new TlsCredentials(files, await TlsCredentials.read(files));
  }

  private static async read(files: TlsFiles): Promise<{ options: tls.SecureContextOptions; context: tls.SecureContext }> {
    const load = async (file: string, what: string): Promise<Buffer> => {
      try {
        return await readFile(file);
      } catch (err) {
        throw new PipeError('USAGE', `cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    const [cert, key] = await Promise.all([load(files.cert, 'certificate'), load(files.key, 'key')]);
    const options: tls.SecureContextOptions = { cert, key, minVersion: MIN_TLS_VERSION };
    try {
      return { options, context: tls.createSecureContext(options) };
    } catch (err) {
      // Bad PEM, or a key that does not belong to the certificate. OpenSSL's text names which.
      throw new PipeError('USAGE', `unusable TLS certificate ${files.cert} or key ${files.key}: ${(err as Error).message}`);
    }
  }

  /** For STARTTLS: the context a TLSSocket made now should use. */
  get secureContext(): tls.SecureContext {
    return this.current.context;
  }

  /** For `tls.createServer` and `setSecureContext`. */
  get options(): tls.SecureContextOptions {
    return this.current.options;
  }

  /** Called with the new options after each successful reload. */
  onReload(listener: (options: tls.SecureContextOptions) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads the files again; on failure the old certificate stays in use and the error is thrown. */
  async reload(): Promise<void> {
    this.current = await TlsCredentials.read(this.files);
    for (const l of this.listeners) l(this.current.options);
  }
}
