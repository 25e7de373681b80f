export { PipeError, ValidationError, exitCodeOf, type ErrorCode } from './errors.js';
export { UidSet, MAX_UID, type Uid } from './update/uid-set.js';
export {
  validateUpdate,
  uidsOf,
  resyncAll,
  ALL_USERS,
  type Update,
  type UpdateType,
  type ExistsUpdate,
  type ExpungeUpdate,
  type FlagsUpdate,
  type MailboxUpdate,
  type MailboxOp,
  type ResyncUpdate,
  type UidSetText,
  type Flag,
} from './update/update.js';
export { type Envelope, type Origin, type Seq, ENVELOPE_VERSION, validateEnvelope } from './envelope/envelope.js';
export { encodeEnvelope, decodeEnvelope } from './envelope/codec.js';
export { openPipe } from './pipe/open-pipe.js';
export { defaultPipeUrl } from './pipe/default-url.js';
export {
  DEFAULTS,
  type UpdatePipe,
  type UpdateHandler,
  type Meta,
  type PipeOptions,
  type PipeStats,
  type PipeStatus,
  type ResyncReason,
} from './pipe/update-pipe.js';
export { TrackerRegistry, canonicalMailbox, type RegistryOptions, type ApplyContext } from './tracker/registry.js';
export {
  MailboxTracker,
  DEFAULT_MAX_PENDING,
  type MailboxTrackerOptions,
  type ResyncCause,
  type ChangeScope,
  type FlagsChangeOptions,
} from './tracker/mailbox-tracker.js';
export { SessionTracker, type PollOptions } from './tracker/session-tracker.js';
export { type MailboxState } from './tracker/mailbox-state.js';
export {
  formatUntagged,
  formatUntaggedLines,
  type UntaggedResponse,
  type ByeReason,
  type SeqNum,
} from './tracker/untagged.js';
export {
  MaildirStore,
  type MaildirStoreOptions,
  type MessageInfo,
  type MailboxState as StoredMailbox,
  type FlagChange,
  type FlagMode,
  type Discovery,
} from './maildir/maildir-store.js';
export { type Announcement } from './maildir/announcement.js';
export { Announcer, type AnnouncerOptions } from './maildir/watch/announcer.js';
export { MaildirWatcher, WATCHER_DEFAULTS, type MaildirWatcherOptions, type WatcherStats, type WatcherRole } from './maildir/watch/tree-watcher.js';
export { ImapServer, type ImapServerOptions } from './imap/server.js';
export { parseUsers, loadUsers, hashPassword, verifyPassword, type Credentials } from './imap/users.js';
