/**
 * `npm run fuzz [-- --seconds N] [--target NAME --seed S]`: spends a time budget on every
 * target of targets.ts, in a child process watched for hangs. Prints a table (target,
 * inputs, failures) and exits 1 on any crash or hang, with the seed that replays it.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { TARGETS } from './targets.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const SLICE = 2_000; // inputs per seed
const HANG_MS = 10_000;

if (process.argv[2] === '--child') {
  // Child: run slices of one target until told the budget is spent; say each seed first.
  const target = TARGETS.find((t) => t.name === process.argv[3])!;
  const until = Date.now() + Number(process.argv[4]);
  const fixedSeed = process.argv[5] ? Number(process.argv[5]) : undefined;
  let inputs = 0;
  do {
    const seed = fixedSeed ?? (Math.random() * 2 ** 31) | 0;
    process.send!({ seed });
    const r = fc.check(fc.property(target.input, (x) => target.run(x)), { numRuns: SLICE, seed });
    inputs += r.numRuns;
    if (r.failed) {
      process.send!({ failure: `${String((r.errorInstance as Error)?.message ?? r.errorInstance).slice(0, 300)}; counterexample ${fc.stringify(r.counterexample).slice(0, 300)}`, seed, inputs });
      process.exit(0);
    }
  } while (fixedSeed === undefined && Date.now() < until);
  process.send!({ inputs });
  process.exit(0);
}

interface Row {
  target: string;
  inputs: number;
  problem: string;
}

function fuzzTarget(name: string, budgetMs: number, seed?: string): Promise<Row> {
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', name, String(budgetMs), ...(seed ? [seed] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let lastSeed = 0;
    let heard = Date.now();
    let row: Row = { target: name, inputs: 0, problem: 'child exited without a report' };
    const watchdog = setInterval(() => {
      if (Date.now() - heard > HANG_MS + SLICE) {
        row = { target: name, inputs: row.inputs, problem: `HANG (> ${HANG_MS / 1000} s on one slice); replay: npm run fuzz -- --target "${name}" --seed ${lastSeed}` };
        child.kill('SIGKILL');
      }
    }, 1_000);
    child.on('message', (m: { seed?: number; inputs?: number; failure?: string }) => {
      heard = Date.now();
      if (m.failure) row = { target: name, inputs: m.inputs ?? 0, problem: `CRASH: ${m.failure}; replay: npm run fuzz -- --target "${name}" --seed ${m.seed}` };
      else if (m.inputs !== undefined) row = { target: name, inputs: m.inputs, problem: '' };
      else if (m.seed !== undefined) lastSeed = m.seed;
    });
    child.on('exit', () => {
      clearInterval(watchdog);
      resolve(row);
    });
  });
}

const seconds = Number(arg('seconds') ?? 60);
const only = arg('target');
const targets = only ? TARGETS.filter((t) => t.name === only) : TARGETS;
if (targets.length === 0) {
  process.stderr.write(`no fuzz target named "${only}"; targets: ${TARGETS.map((t) => t.name).join(', ')}\n`);
  process.exit(2);
}
const per = (seconds * 1000) / targets.length;
process.stderr.write(`fuzz: ${targets.length} targets, ${seconds} s\n`);
const rows: Row[] = [];
for (const t of targets) {
  process.stderr.write(`fuzz: ${t.name}…\n`);
  rows.push(await fuzzTarget(t.name, per, arg('seed')));
}
const w = Math.max(...rows.map((r) => r.target.length));
for (const r of rows) console.log(`${r.target.padEnd(w)}  ${String(r.inputs).padStart(9)} inputs  ${r.problem || 'ok'}`);
const bad = rows.filter((r) => r.problem);
console.log(`${rows.reduce((a, r) => a + r.inputs, 0)} inputs, ${bad.length} problem(s)`);
process.exit(bad.length ? 1 : 0);
