import { UidSet, type Uid } from '../update/uid-set.js';
import type { Flag } from '../update/update.js';

/** A message sequence number: 1-based position in one session's view. */
export type SeqNum = number;

/**
 * Why a session must end. There is no IMAP response that makes a client re-SELECT, so
 * each of these is an untagged BYE (RFC 2180 §3.3 for delete/rename); the client
 * reconnects and starts from a fresh view.
 * - `uidvalidity`: the mailbox was recreated; every UID the client holds is void;
 * - `deleted` / `renamed`: the selected mailbox no longer exists under its name;
 * - `uid-order`: a message appeared with a UID below one the client was already told
 *   about; sequence numbers must follow UID order and new messages can only be appended
 *   (RFC 9051 §2.3.1.2), so there is no way to show it in this session.
 */
export type ByeReason = 'uidvalidity' | 'deleted' | 'renamed' | 'uid-order';

/**
 * What a session must tell its client, in order. Apply them one after another: each
 * `expunge` shifts the numbers after it; `exists` carries the count after the expunges
 * before it; `fetch` numbers are those after everything before it.
 */
export type UntaggedResponse =
  | { kind: 'expunge'; seq: SeqNum; uid: Uid }
  | { kind: 'exists'; count: number }
  /**
   * `flags: null` for a new message whose flags are not known yet: send only its UID.
   * `modseq` where known (always, for sessions that asked for modseqs).
   */
  | { kind: 'fetch'; seq: SeqNum; uid: Uid; flags: readonly Flag[] | null; modseq?: number }
  | { kind: 'bye'; reason: ByeReason };

/**
 * What the client enabled (RFC 7162): `modseq` (CONDSTORE) adds MODSEQ to FETCH responses;
 * `vanished` (QRESYNC) reports expunges as VANISHED with UIDs instead of EXPUNGE.
 */
export interface UntaggedFormat {
  modseq?: boolean;
  vanished?: boolean;
}

const BYE_TEXT: Record<ByeReason, string> = {
  uidvalidity: 'Mailbox UIDVALIDITY changed, please reconnect',
  deleted: 'Selected mailbox was deleted, have to disconnect',
  renamed: 'Selected mailbox was renamed, have to disconnect',
  'uid-order': 'Mailbox changed in a way this session cannot show, please reconnect',
};

/** One response as an IMAP line, without the trailing CRLF. */
export function formatUntagged(r: UntaggedResponse, f: UntaggedFormat = {}): string {
  switch (r.kind) {
    case 'expunge':
      return f.vanished ? `* VANISHED ${r.uid}` : `* ${r.seq} EXPUNGE`;
    case 'exists':
      return `* ${r.count} EXISTS`;
    case 'fetch': {
      const modseq = f.modseq && r.modseq !== undefined ? ` MODSEQ (${r.modseq})` : '';
      return r.flags === null ? `* ${r.seq} FETCH (UID ${r.uid}${modseq})` : `* ${r.seq} FETCH (UID ${r.uid} FLAGS (${r.flags.join(' ')})${modseq})`;
    }
    case 'bye':
      return `* BYE ${BYE_TEXT[r.reason]}`;
  }
}

/**
 * All responses as wire text, each line CRLF-terminated ("" for none). With `vanished`,
 * a run of expunges is one `* VANISHED <uid-set>` line.
 */
export function formatUntaggedLines(rs: readonly UntaggedResponse[], f: UntaggedFormat = {}): string {
  let out = '';
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i]!;
    if (f.vanished && r.kind === 'expunge') {
      const uids: Uid[] = [r.uid];
      while (rs[i + 1]?.kind === 'expunge') uids.push((rs[++i] as { uid: Uid }).uid);
      out += `* VANISHED ${UidSet.parse(uids).toString()}\r\n`;
      continue;
    }
    out += formatUntagged(r, f) + '\r\n';
  }
  return out;
}
