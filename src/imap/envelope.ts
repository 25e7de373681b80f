import { parseAddressList, type Address } from './address.js';
import { fieldValue, type HeaderField } from './mime.js';
import { wireNString, wireString } from './wire-string.js';

/**
 * Text meant for people (subject, display names), as Dovecot sends it: tabs and line
 * breaks become spaces, runs of white space one space, no white space at either end.
 */
export function forHumans(s: string): string {
  return s.replace(/[\t\r\n ]+/g, ' ').trim();
}

function address(a: Address): string {
  if (a.kind === 'group-start') return `(NIL NIL ${wireString(a.name)} NIL)`;
  if (a.kind === 'group-end') return '(NIL NIL NIL NIL)';
  const name = a.name === null ? null : forHumans(a.name) || null;
  return `(${wireNString(name)} ${wireNString(a.route)} ${wireString(a.mailbox)} ${wireString(a.host)})`;
}

function addressList(value: string | null): string {
  if (value === null) return 'NIL';
  const list = parseAddressList(value);
  return list.length ? `(${list.map(address).join('')})` : 'NIL';
}

/**
 * ENVELOPE (RFC 9051 §7.5.2) from a header's fields, latin1 text. Where a field is repeated
 * the last one counts; Sender and Reply-To default to From.
 */
export function envelope(fields: readonly HeaderField[]): string {
  const v = (n: string): string | null => fieldValue(fields, n);
  const from = addressList(v('from'));
  const sender = v('sender') === null ? from : addressList(v('sender'));
  const replyTo = v('reply-to') === null ? from : addressList(v('reply-to'));
  const subject = v('subject');
  return `(${[
    wireNString(v('date')),
    subject === null ? 'NIL' : wireString(forHumans(subject)),
    from,
    sender,
    replyTo,
    addressList(v('to')),
    addressList(v('cc')),
    addressList(v('bcc')),
    wireNString(v('in-reply-to')),
    wireNString(v('message-id')),
  ].join(' ')})`;
}
