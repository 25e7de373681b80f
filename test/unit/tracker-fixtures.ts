import assert from 'node:assert/strict';
import type { MailboxState } from '../../src/tracker/mailbox-state.js';
import type { MailboxTracker, ResyncCause } from '../../src/tracker/mailbox-tracker.js';
import { TrackerRegistry, type RegistryOptions } from '../../src/tracker/registry.js';
import type { UntaggedResponse } from '../../src/tracker/untagged.js';
import type { Uid } from '../../src/update/uid-set.js';
import type { Flag } from '../../src/update/update.js';

/** Flags compared the way IMAP does: as a case-insensitive set. */
export function flagKey(flags: readonly Flag[] | null | undefined): string {
  return [...new Set((flags ?? []).map((f) => f.toLowerCase()))].sort().join(' ');
}

/** A mailbox in storage: the truth every view must converge to. */
export class Storage {
  uidValidity = 1000;
  uidNext: Uid = 1;
  modseq = 1;
  readonly messages = new Map<Uid, Flag[]>();
  /** Each message's MODSEQ: of its delivery, then of its last flag change. */
  readonly modseqs = new Map<Uid, number>();

  append(n = 1, flags: Flag[] = []): Uid[] {
    const out: Uid[] = [];
    this.modseq++;
    for (let i = 0; i < n; i++) {
      const u = this.uidNext++;
      this.messages.set(u, flags.slice());
      this.modseqs.set(u, this.modseq);
      out.push(u);
    }
    return out;
  }

  expunge(uids: readonly Uid[]): Uid[] {
    const gone = uids.filter((u) => this.messages.delete(u));
    for (const u of gone) this.modseqs.delete(u);
    this.modseq++;
    return gone;
  }

  setFlags(uid: Uid, flags: Flag[]): number {
    this.messages.set(uid, flags.slice());
    this.modseqs.set(uid, ++this.modseq);
    return this.modseq;
  }

  get uids(): Uid[] {
    return [...this.messages.keys()].sort((a, b) => a - b);
  }

  read(): MailboxState {
    return {
      uidValidity: this.uidValidity,
      uidNext: this.uidNext,
      uids: this.uids,
      flags: new Map([...this.messages].map(([u, f]) => [u, f.slice()])),
      highestModseq: this.modseq,
      modseqs: new Map(this.modseqs),
    };
  }
}

export interface ClientMessage {
  uid: Uid | null;
  flags: string | null;
}

/**
 * What an IMAP client keeps: a list indexed by sequence number, changed only by the
 * untagged responses it receives. Every response is checked the way a strict client
 * would: numbers in range, counts that never shrink, UIDs that never change.
 */
export class ClientModel {
  msgs: ClientMessage[];
  byes = 0;
  /** The newest MODSEQ the client holds flags of, per UID: what it was told must only grow. */
  readonly modseqs = new Map<Uid, number>();

  constructor(state: MailboxState) {
    this.msgs = state.uids.map((u) => ({ uid: u, flags: flagKey(state.flags.get(u)) }));
    for (const [u, m] of state.modseqs ?? []) this.modseqs.set(u, m);
  }

  /** The client's own command (STORE) told it these flags at this modseq. */
  toldBySession(uid: Uid, modseq: number): void {
    this.modseqs.set(uid, Math.max(modseq, this.modseqs.get(uid) ?? 0));
  }

  apply(rs: readonly UntaggedResponse[], allowExpunge: boolean): void {
    for (const r of rs) {
      switch (r.kind) {
        case 'expunge':
          assert.ok(allowExpunge, 'EXPUNGE while expunges are not allowed');
          assert.ok(r.seq >= 1 && r.seq <= this.msgs.length, `EXPUNGE ${r.seq} out of range 1..${this.msgs.length}`);
          this.msgs.splice(r.seq - 1, 1);
          break;
        case 'exists':
          assert.ok(r.count >= this.msgs.length, `EXISTS ${r.count} below ${this.msgs.length}`);
          while (this.msgs.length < r.count) this.msgs.push({ uid: null, flags: null });
          break;
        case 'fetch': {
          assert.ok(r.seq >= 1 && r.seq <= this.msgs.length, `FETCH ${r.seq} out of range 1..${this.msgs.length}`);
          const m = this.msgs[r.seq - 1]!;
          if (m.uid === null) m.uid = r.uid;
          else assert.equal(r.uid, m.uid, `FETCH ${r.seq} says UID ${r.uid}, client has ${m.uid}`);
          if (r.flags !== null) m.flags = flagKey(r.flags);
          if (r.modseq !== undefined && r.flags !== null) {
            const before = this.modseqs.get(r.uid);
            assert.ok(before === undefined || r.modseq > before, `UID ${r.uid}: told flags of modseq ${r.modseq} after those of ${before}`);
            this.modseqs.set(r.uid, r.modseq);
          }
          break;
        }
        case 'bye':
          this.byes++;
          break;
      }
    }
    this.checkOrder();
  }

  checkOrder(): void {
    let prev = 0;
    for (const m of this.msgs) {
      if (m.uid === null) continue;
      assert.ok(m.uid > prev, `UIDs out of order in client view: ${this.msgs.map((x) => x.uid).join(',')}`);
      prev = m.uid;
    }
  }

  get uids(): (Uid | null)[] {
    return this.msgs.map((m) => m.uid);
  }

  /** Flags never sent count as none: new messages are appended without flags here. */
  matches(storage: Storage): void {
    assert.deepEqual(this.uids, storage.uids, 'client UIDs differ from storage');
    for (const m of this.msgs) assert.equal(m.flags ?? '', flagKey(storage.messages.get(m.uid!)), `flags of UID ${m.uid}`);
  }
}

export interface ResyncRequest {
  tracker: MailboxTracker;
  cause: ResyncCause;
}

/** A registry whose resync requests are collected for the test to answer. */
export function testRegistry(extra: Partial<RegistryOptions> = {}): { registry: TrackerRegistry; requests: ResyncRequest[] } {
  const requests: ResyncRequest[] = [];
  const registry = new TrackerRegistry({ onResyncNeeded: (tracker, cause) => requests.push({ tracker, cause }), ...extra });
  return { registry, requests };
}

/** Lets queued microtasks (resync requests, wake-ups) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await Promise.resolve();
}

export function lines(rs: readonly UntaggedResponse[]): string[] {
  return rs.map((r) => {
    switch (r.kind) {
      case 'expunge':
        return `${r.seq} EXPUNGE`;
      case 'exists':
        return `${r.count} EXISTS`;
      case 'fetch':
        return r.flags === null ? `${r.seq} FETCH ${r.uid}` : `${r.seq} FETCH ${r.uid} (${r.flags.join(' ')})`;
      case 'bye':
        return `BYE ${r.reason}`;
    }
  });
}
