import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import vm from 'node:vm';

/**
 * Loads a CommonJS bundle of the CLI (scripts/bundle.mjs) through `vm.Script` with the
 * V8 code cache the build made for it beside it (`<bundle>.cache`): on Node 20, which has
 * no compile cache of its own, compiling the bundle and the functions a command runs is a
 * fifth of what `mail add` adds to Node's start. Node 22+ caches compiled code itself
 * (module.enableCompileCache) and does not come here.
 *
 * The cache is used only when it belongs to this very bundle, and nothing here reads the
 * bundle or the cache through a hash (node:crypto's load and a SHA-256 over both were
 * ~5 ms of a 40 ms `mail add`):
 * - the build stamps each bundle with an id of its text, its last line
 *   (`//# updatepipe-build <id>`), and writes the same id into the cache's header, so a
 *   rebuilt bundle never takes an older cache (V8 itself compares only the source's length);
 * - V8 checksums the cache when `--verify-snapshot-checksum` is on, which release builds
 *   leave off (they would read damaged data as code). It is turned on here (`RUN_FLAGS`)
 *   before any cache is made or read; being part of V8's flag hash, it also makes V8
 *   refuse a cache made without it.
 * V8 also refuses a cache of another V8 version or other flags. What is not caught: a
 * bundle edited by hand to the very same length with its stamp kept; delete the cache
 * beside a bundle you edit.
 */

const MAGIC = 'updatepipe-code-cache/2 ';
export const BUILD_STAMP = '\n//# updatepipe-build ';

/**
 * CommonJS's function wrapper, spelled here: the cache is for this exact text. A script's
 * own `import()` finds no loader once its code comes from a cache
 * (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING on Node 20), so the bundle calls
 * `__importExternal` instead (scripts/bundle.mjs): the NATS and WebSocket backends, still
 * loaded only when a pipe URL asks for them.
 */
const wrap = (source: string): string => `(function (exports, require, module, __filename, __dirname, __importExternal) { ${source}\n})`;

export const cacheFileOf = (bundle: string): string => `${bundle}.cache`;

/**
 * The V8 flags a bundle is cached and run with (the same in the build's training run: V8
 * refuses a cache made under other flags).
 * - `--verify-snapshot-checksum`: see above.
 * - `--no-minor-gc-task`: V8 schedules a young-generation collection once the nursery is
 *   80 % full. In `mail add` that was one 2–3.5 ms scavenge, copying freshly loaded code,
 *   on the way to the push; the command is over before the nursery fills (when it does,
 *   the scavenge still runs, as the allocation needs it).
 */
const RUN_FLAGS = ['--verify-snapshot-checksum', '--no-minor-gc-task'];

let flagsSet = false;
function setRunFlags(): void {
  if (!flagsSet) for (const flag of RUN_FLAGS) setFlagsFromString(flag);
  flagsSet = true;
}

/** The build id a stamped bundle ends with, or undefined. */
export function buildIdOf(source: string): string | undefined {
  const at = source.lastIndexOf(BUILD_STAMP);
  if (at < 0) return undefined;
  const id = source.slice(at + BUILD_STAMP.length).trimEnd();
  return /^[0-9a-f]{16,64}$/.test(id) ? id : undefined;
}

/** The cache's V8 data if its header names the build `source` is stamped with; undefined otherwise. */
export function readCodeCache(bundle: string, source: string): Buffer | undefined {
  const id = buildIdOf(source);
  if (id === undefined) return undefined;
  let file: Buffer;
  try {
    file = readFileSync(cacheFileOf(bundle));
  } catch {
    return undefined;
  }
  const header = `${MAGIC}${id}\n`;
  if (file.length <= header.length || file.toString('latin1', 0, header.length) !== header) return undefined;
  return file.subarray(header.length);
}

/** Writes the cache of a stamped bundle; `data` must come from a script `loadBundle` made. */
export function writeCodeCache(bundle: string, source: string, data: Buffer): void {
  const id = buildIdOf(source);
  if (id === undefined) throw new Error(`${bundle} has no build stamp`);
  writeFileSync(cacheFileOf(bundle), Buffer.concat([Buffer.from(`${MAGIC}${id}\n`, 'latin1'), data]));
}

export interface LoadedBundle {
  exports: unknown;
  /** Whether V8 took the cache (false: none, refused here, or rejected by V8). */
  cached: boolean;
  script: vm.Script;
  source: string;
}

/**
 * The bundle's exports, or undefined when it is not there (a plain `tsc` build).
 * `load`: the bundle's `require`; the executable passes its own (it sits in the same
 * directory), which spares loading node:module for `createRequire`.
 */
export function loadBundle(bundle: string, load: NodeJS.Require = createRequire(bundle)): LoadedBundle | undefined {
  let source: string;
  try {
    source = readFileSync(bundle, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  setRunFlags();
  const cachedData = readCodeCache(bundle, source);
  const script = new vm.Script(wrap(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  const module = { exports: {} as unknown };
  const fn = script.runInThisContext() as (...args: unknown[]) => void;
  const importExternal = (specifier: string): Promise<unknown> => import(new URL(specifier, pathToFileURL(bundle)).href);
  fn.call(module.exports, module.exports, load, module, bundle, path.dirname(bundle), importExternal);
  return { exports: module.exports, cached: cachedData !== undefined && !script.cachedDataRejected, script, source };
}

/**
 * Node 22.1+ has a compile cache of its own (module.enableCompileCache). Told by the
 * version: loading node:module to ask costs Node 20's `mail add` ~0.5 ms.
 */
export function hasCompileCache(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 1);
}

/**
 * What `push` and `mail` run from (src/cli/launch.ts, main.ts): a CommonJS bundle's
 * exports, `require`d with Node's compile cache on Node 22.1+, through `vm.Script` and the
 * build's code cache before; undefined when there is no bundle (a plain `tsc` build).
 * `load`: a `require` of the bundle's directory.
 */
export function loadFastBundle(bundle: string, load: NodeJS.Require): unknown {
  if (!hasCompileCache()) return loadBundle(bundle, load)?.exports;
  (load('node:module') as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  try {
    return load(bundle);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && !existsSync(bundle)) return undefined;
    throw err;
  }
}
