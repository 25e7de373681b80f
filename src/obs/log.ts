/**
 * Logs of the long-running commands (hub, relay, serve-imap) on stderr: one line per
 * event, plain text or JSON (`--log-json`). Quiet by default: start-up lines and problems;
 * `-v` adds every connection and status event. Callers never pass secrets (pipe URLs are
 * redacted before they get here).
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
type Fields = Record<string, unknown>;

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export function createLogger(o: { json: boolean; verbose: boolean; out?: (line: string) => void }): Logger {
  const min = o.verbose ? RANK.debug : RANK.info;
  const out = o.out ?? ((line: string) => void process.stderr.write(line + '\n'));
  const emit = (level: Level, msg: string, fields: Fields = {}): void => {
    if (RANK[level] < min) return;
    if (o.json) out(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
    else {
      const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('');
      out(`updatepipe: ${level === 'info' || level === 'debug' ? '' : `${level}: `}${msg}${extra}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
