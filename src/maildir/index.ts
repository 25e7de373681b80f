export { MaildirStore, type MessageInfo, type MailboxState, type AppendResult, type MaildirStoreOptions } from './maildir-store.js';
export type { MessageContent } from './delivery.js';
export { DEFAULT_LOCK_OPTIONS, type LockOptions } from './lock-file.js';
export { INBOX, HIERARCHY_SEPARATOR, normalizeMailboxName, encodeNameComponent, decodeNameComponent, folderDirNameOf, mailboxOfFolderDirName } from './mailbox-name.js';
export { validateUserName } from './user-name.js';
export { parseMaildirFilename, formatMaildirFilename, type MaildirFilename } from './maildir-filename.js';
