import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

/**
 * Loads a CommonJS bundle of the CLI (scripts/bundle.mjs) through `vm.Script` with the
 * V8 code cache the build made for it beside it (`<bundle>.cache`): on Node 20, which has
 * no compile cache of its own, compiling the bundle and the functions a command runs is a
 * fifth of what `mail add` adds to Node's start. Node 22+ caches compiled code itself
 * (module.enableCompileCache) and does not come here.
 *
 * The cache is trusted only when it belongs to this very bundle: its header holds a
 * SHA-256 over the bundle's source and the cache bytes. V8 checks little itself (the
 * source's length, its version and flags) and reads a damaged cache as code, so a stale or
 * corrupt file is refused here and the bundle is compiled from source, as without one.
 */

const MAGIC = 'updatepipe-code-cache/1 ';
const HEADER_BYTES = MAGIC.length + 64 + 1;

/**
 * CommonJS's function wrapper, spelled here: the cache is for this exact text. A script's
 * own `import()` finds no loader once its code comes from a cache
 * (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING on Node 20), so the bundle calls
 * `__importExternal` instead (scripts/bundle.mjs): the NATS and WebSocket backends, still
 * loaded only when a pipe URL asks for them.
 */
const wrap = (source: string): string => `(function (exports, require, module, __filename, __dirname, __importExternal) { ${source}\n})`;

export const cacheFileOf = (bundle: string): string => `${bundle}.cache`;

function digest(source: string, data: Buffer): string {
  return createHash('sha256').update(source).update(data).digest('hex');
}

/** The cache's V8 data if its header vouches for it and `source`; undefined otherwise. */
export function readCodeCache(bundle: string, source: string): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(cacheFileOf(bundle));
  } catch {
    return undefined;
  }
  if (file.length <= HEADER_BYTES || file.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const data = file.subarray(HEADER_BYTES);
  return file.toString('latin1', MAGIC.length, MAGIC.length + 64) === digest(source, data) ? data : undefined;
}

export function writeCodeCache(bundle: string, source: string, data: Buffer): void {
  writeFileSync(cacheFileOf(bundle), Buffer.concat([Buffer.from(`${MAGIC}${digest(source, data)}\n`, 'latin1'), data]));
}

export interface LoadedBundle {
  exports: unknown;
  /** Whether V8 took the cache (false: none, refused here, or rejected by V8). */
  cached: boolean;
  script: vm.Script;
  source: string;
}

/** The bundle's exports, or undefined when it is not there (a plain `tsc` build). */
export function loadBundle(bundle: string): LoadedBundle | undefined {
  let source: string;
  try {
    source = readFileSync(bundle, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const cachedData = readCodeCache(bundle, source);
  const script = new vm.Script(wrap(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  const module = { exports: {} as unknown };
  const fn = script.runInThisContext() as (...args: unknown[]) => void;
  const importExternal = (specifier: string): Promise<unknown> => import(new URL(specifier, pathToFileURL(bundle)).href);
  fn.call(module.exports, module.exports, createRequire(bundle), module, bundle, path.dirname(bundle), importExternal);
  return { exports: module.exports, cached: cachedData !== undefined && !script.cachedDataRejected, script, source };
}
