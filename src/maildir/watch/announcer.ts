import { isPipeError } from '../../errors.js';
import type { MailboxName, Update, UserName } from '../../update/update.js';
import type { Announcement } from '../announcement.js';

export interface AnnouncerOptions {
  /** The pipe's push: resolves once accepted. */
  push: (u: Update) => Promise<void>;
  /** This process' own sessions, told at once (serve-imap's tracker registry). */
  apply?: (u: Update) => void;
  log?: (line: string) => void;
  /** How often a resync owed after a failed push is tried again, ms. */
  retryMs?: number;
}

interface Scope {
  user: UserName;
  mailbox: MailboxName | undefined;
}

const keyOf = (s: Scope): string => `${s.user}\u0000${s.mailbox ?? ''}`;

/**
 * Pushes what scans found (and what dead announcers left), in the order given, and ends
 * each announcement once the pipe has it. Nobody listening counts as told: servers read
 * storage when they start. Any other failure means someone may not know: the scope is
 * owed a `resync`, retried until the pipe takes it, and only then is the announcement
 * (its in-flight marker) ended. So nothing found is ever dropped quietly.
 */
export class Announcer {
  private readonly owed = new Map<string, { scope: Scope; settle: (() => Promise<void>)[] }>();
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly retryMs: number;

  constructor(private readonly o: AnnouncerOptions) {
    this.retryMs = o.retryMs ?? 1_000;
  }

  /** Resyncs still owed after failed pushes. */
  get owedCount(): number {
    return this.owed.size;
  }

  announce(a: Announcement): Promise<void> {
    if (a.updates.length === 0) return a.done();
    for (const u of a.updates) this.o.apply?.(u);
    // Pushed one after another without waiting: the pipe keeps push order per origin.
    return this.track(this.settleAll(a.updates.map((u) => this.o.push(u)), a, () => a.done()));
  }

  /** A scope whose announcement may have been lost (a dead announcer's marker): resync it, then `clear`. */
  resync(scope: Scope, clear: () => Promise<void>): Promise<void> {
    const u = resyncOf(scope);
    this.o.apply?.(u);
    return this.track(this.settleAll([this.o.push(u)], scope, clear));
  }

  /** Waits for pushes under way (each bounded by the pipe's own timeout). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  private async settleAll(pushes: Promise<void>[], scope: Scope, settle: () => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(pushes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !isPipeError(r.reason, 'NO_LISTENER'));
    if (failed === undefined) return settle();
    this.o.log?.(`push of a change to ${scope.user}/${scope.mailbox ?? '*'} failed (${(failed.reason as Error).message}); a resync is owed`);
    this.owe({ user: scope.user, mailbox: scope.mailbox }, settle);
  }

  private owe(scope: Scope, settle: () => Promise<void>): void {
    const key = keyOf(scope);
    const entry = this.owed.get(key);
    if (entry) entry.settle.push(settle);
    else this.owed.set(key, { scope, settle: [settle] });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null || this.closed || this.owed.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.retry();
    }, this.retryMs);
    this.timer.unref();
  }

  private async retry(): Promise<void> {
    const due = [...this.owed.values()];
    this.owed.clear();
    await Promise.all(
      due.map(async ({ scope, settle }) => {
        try {
          await this.o.push(resyncOf(scope));
        } catch (err) {
          if (!isPipeError(err, 'NO_LISTENER')) {
            for (const s of settle) this.owe(scope, s);
            return;
          }
        }
        this.o.log?.(`owed resync of ${scope.user}/${scope.mailbox ?? '*'} pushed`);
        await Promise.all(settle.map((s) => s()));
      }),
    );
    this.schedule();
  }
}

function resyncOf(scope: Scope): Update {
  return scope.mailbox === undefined ? { type: 'resync', user: scope.user } : { type: 'resync', user: scope.user, mailbox: scope.mailbox };
}
