import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CLI_PATH, CliProcess, runCli } from '../../src/cli/child.js';

/**
 * `push` and `mail` start from one-file bundles, and what they load is their start-up
 * time: these run the real commands with a module hook that writes down every module
 * they resolve.
 */
let dir = '';
let env: NodeJS.ProcessEnv = {};
let listener: CliProcess | null = null;
let pipe = '';
const log = (): string => path.join(dir, 'resolved.txt');

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-loaded-'));
  const hooks = path.join(dir, 'hooks.mjs');
  await writeFile(
    hooks,
    `import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(file, r.url + '\\n');
  return r;
}
`,
  );
  // Node 20 runs the CommonJS bundle (code-cache.ts), whose loads only CommonJS resolution sees.
  const cjsLog = path.join(dir, 'cjs-log.cjs');
  await writeFile(
    cjsLog,
    `const Module = require('node:module');
const { appendFileSync } = require('node:fs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const r = resolve.apply(this, args);
  appendFileSync(${JSON.stringify(log())}, 'cjs:' + r + '\\n');
  return r;
};
// Built-ins bypass resolution: what the process loaded is in its module list at exit.
process.on('exit', () => {
  const names = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => 'builtin:' + m.slice(13));
  appendFileSync(${JSON.stringify(log())}, names.join('\\n') + '\\n');
});
`,
  );
  const register = path.join(dir, 'register.mjs');
  await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { file: ${JSON.stringify(log())} } });\n`);
  env = { ...process.env, NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import=${pathToFileURL(register).href} --require=${cjsLog}` };
  pipe = `unix:${path.join(dir, 's.sock')}`;
  listener = new CliProcess(['listen', '--pipe', pipe]);
  await listener.waitStderr('ready');
});
after(async () => {
  await listener?.kill();
  await rm(dir, { recursive: true, force: true });
});

async function resolvedBy(args: string[], input?: string): Promise<string[]> {
  await writeFile(log(), '');
  const r = await runCli(args, { env, ...(input === undefined ? {} : { input }) });
  assert.equal(r.code, 0, r.stderr);
  return (await readFile(log(), 'utf8')).split('\n').filter(Boolean);
}

/** Node 20 runs the CommonJS bundles through their code cache; Node 22.1+ requires them, with Node's compile cache. */
const viaCodeCache = (module as { enableCompileCache?: unknown }).enableCompileCache === undefined;

/** The bundle ran, not the modules it is made of. */
function assertBundled(urls: string[], name: 'push' | 'mail'): void {
  // The executable (updatepipe.cjs) runs the CommonJS bundle itself: not one ES module,
  // not even main.js (which the command would otherwise go through), so Node never sets
  // up its ES module loader (~13 ms of `mail add`).
  assert.ok(CLI_PATH.endsWith('updatepipe.cjs'), CLI_PATH);
  // (The hooks see the entry itself, which --import makes Node resolve through them.)
  const entry = pathToFileURL(CLI_PATH).href;
  assert.deepEqual(urls.filter((u) => u.startsWith('file:') && u !== entry), [], 'no ES module resolved');
  // Node 22.1+ requires the bundle (CommonJS resolution sees it); Node 20 reads it for vm.Script.
  if (!viaCodeCache) assert.ok(urls.some((u) => u.startsWith('cjs:') && u.endsWith(`/${name}-bundle.cjs`)), `the hook saw the bundle (${urls.length} modules)`);
  // Built-ins the bundles load only on first use (scripts/bundle.mjs): not used by these
  // runs. (node:module cannot be told apart: this test's own hooks load it.)
  assert.ok(urls.includes('builtin:net'), 'the exit hook listed the built-ins');
  for (const unused of ['crypto', 'fs/promises', 'timers/promises', 'readline']) {
    assert.ok(!urls.includes(`builtin:${unused}`), `node:${unused} loaded`);
  }
  assert.ok(!urls.some((u) => u.endsWith(`/${name}-entry.js`) || u.includes('/cli/commands/')), 'no unbundled CLI module');
}

test('push loads its bundle and no metrics library, native addon or command parser', async () => {
  const urls = await resolvedBy(['push', '--pipe', pipe, '{"type":"resync","user":"alice"}']);
  assertBundled(urls, 'push');
  for (const unwanted of ['prom-client', 'msgpackr-extract', 'commander', '/node_modules/msgpackr/']) {
    assert.ok(!urls.some((u) => u.includes(unwanted)), `${unwanted} loaded: ${urls.filter((u) => u.includes(unwanted)).join(', ')}`);
  }
  // The hook does see packages: `push --help` goes the full way, through commander.
  assert.ok((await resolvedBy(['push', '--help'])).some((u) => u.includes('/node_modules/commander/')));
});

test('mail loads its bundle and no metrics library either', async () => {
  const urls = await resolvedBy(['mail', 'add', '--maildir', path.join(dir, 'mail'), '--user', 'alice', '--pipe', pipe, '-'], 'Subject: x\r\n\r\nbody\r\n');
  assertBundled(urls, 'mail');
  for (const unwanted of ['prom-client', 'msgpackr-extract', 'commander']) {
    assert.ok(!urls.some((u) => u.includes(unwanted)), `${unwanted} loaded`);
  }
});
