import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURE_DIR, type Exchange } from './imap-script.js';
import { Normaliser } from './normalise.js';

export const ALLOWED_FILE = path.join(FIXTURE_DIR, 'allowed-differences.json');

/** A reviewed difference: serve-imap answers `serveImap` (normalised) where Dovecot does not, because `reason`. */
export interface AllowedDifference {
  step: number;
  command: string;
  reason: string;
  serveImap: string[];
}

export function readAllowed(file = ALLOWED_FILE): AllowedDifference[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { differences: AllowedDifference[] }).differences;
}

export interface Difference {
  step: number;
  command: string;
  dovecot: string[];
  serveImap: string[];
}

export interface Comparison {
  /** Differences nobody allowed (or whose allowed answer no longer matches ours). */
  unexplained: Difference[];
  /** Allowances for steps where the servers now agree: the list must be trimmed. */
  stale: AllowedDifference[];
  allowedUsed: number;
  compared: number;
}

export function compareTranscripts(dovecot: Exchange[], ours: Exchange[], allowed: AllowedDifference[]): Comparison {
  if (dovecot.length !== ours.length) throw new Error(`transcripts differ in length: Dovecot ${dovecot.length}, serve-imap ${ours.length} (re-record after changing the script)`);
  const nd = new Normaliser();
  const no = new Normaliser();
  const byStep = new Map(allowed.map((a) => [a.step, a]));
  const unexplained: Difference[] = [];
  const stale: AllowedDifference[] = [];
  let allowedUsed = 0;
  for (let i = 0; i < dovecot.length; i++) {
    const d = dovecot[i]!;
    const o = ours[i]!;
    if (d.command !== o.command || d.step !== o.step) throw new Error(`step ${i}: the transcript has ${JSON.stringify(d.command)}, the script ${JSON.stringify(o.command)} (re-record)`);
    const dn = nd.answer(d.response);
    const on = no.answer(o.response);
    const allow = byStep.get(d.step);
    if (allow && allow.command !== d.command) throw new Error(`allowed-differences entry for step ${allow.step} names ${JSON.stringify(allow.command)}, but that step is ${JSON.stringify(d.command)}`);
    if (dn.join('\n') === on.join('\n')) {
      if (allow) stale.push(allow);
      continue;
    }
    if (allow && allow.serveImap.join('\n') === on.join('\n')) {
      allowedUsed++;
      continue;
    }
    unexplained.push({ step: d.step, command: d.command, dovecot: dn, serveImap: on });
  }
  return { unexplained, stale, allowedUsed, compared: dovecot.length };
}

/** A readable report: per difference the lines only one side has. */
export function describe(diffs: Difference[], max = 20): string {
  const clip = (s: string): string => (s.length > 400 ? `${s.slice(0, 400)}… (${s.length} chars)` : s);
  const parts: string[] = [];
  for (const d of diffs.slice(0, max)) {
    const ours = new Set(d.serveImap);
    const theirs = new Set(d.dovecot);
    const onlyD = d.dovecot.filter((l) => !ours.has(l));
    const onlyO = d.serveImap.filter((l) => !theirs.has(l));
    const body = onlyD.length || onlyO.length ? [...onlyD.map((l) => `  dovecot:    ${clip(l)}`), ...onlyO.map((l) => `  serve-imap: ${clip(l)}`)] : ['  (same lines, different order)'];
    parts.push(`step ${d.step}: ${d.command}\n${body.join('\n')}`);
  }
  if (diffs.length > max) parts.push(`… and ${diffs.length - max} more`);
  return parts.join('\n');
}
