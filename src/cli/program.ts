import { Command, CommanderError, Option } from 'commander';
import { PipeError } from '../errors.js';
import { defaultPipeUrl } from '../pipe/default-url.js';
import type { MailAction, MailArgs, MailOptions } from './commands/mail.js';
import { useTokenFile } from './token-file.js';

// Command modules load only when their command runs.

function pipeOption(): Option {
  return new Option('--pipe <url>', 'pipe URL: unix:/path.sock (default: $UPDATEPIPE_URL or a per-user socket)').default(
    undefined,
    defaultPipeUrl(),
  );
}

function positiveNumber(flag: string, integer: boolean): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!(n > 0) || (integer && !Number.isInteger(n))) throw new PipeError('USAGE', `${flag}: expected a positive ${integer ? 'whole ' : ''}number, got ${JSON.stringify(v)}`);
    return n;
  };
}

function rescanOption(): Option {
  return new Option('--rescan-interval <seconds>', 'safety rescan of directories whose mtime changed (default 60)').argParser(positiveNumber('--rescan-interval', false));
}

function maxWatchesOption(): Option {
  return new Option('--max-watches <n>', 'most inotify watches to take (the rest are scanned every 2 s); default: as many as the kernel allows').argParser(
    positiveNumber('--max-watches', true),
  );
}

const program = new Command('updatepipe')
  .description('Carries IMAP mailbox updates between processes and machines, without duplicates or silent loss.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 internal error, 2 usage or bad input, 3 nobody listening,
            4 transport unreachable, timed out or refusing, 5 authentication refused.
Update JSON: {"type":"exists","user":"alice","mailbox":"INBOX","uids":"5:7"}  (see README)`,
  );

program
  .command('listen')
  .description('print every update from the pipe, one per line; "ready" goes to stderr once receiving')
  .addOption(pipeOption())
  .option('--json', 'one JSON object per line (the update plus origin, seq, ts)', false)
  .option('--token-file <file>', 'bearer token for a ws:// hub (default $UPDATEPIPE_TOKEN)')
  .option('-v, --verbose', 'log connection and resync events to stderr', false)
  .action(async (o: { pipe?: string; json: boolean; verbose: boolean; tokenFile?: string }) => {
    await useTokenFile(o.tokenFile);
    const { listenCommand } = await import('./commands/listen.js');
    await listenCommand({ pipe: o.pipe ?? defaultPipeUrl(), json: o.json, verbose: o.verbose });
  });

program
  .command('push')
  .description('push updates given as JSON arguments, or JSON lines from stdin when there are none')
  .argument('[update-json...]', 'updates, e.g. \'{"type":"expunge","user":"alice","mailbox":"INBOX","uids":[3,4]}\'')
  .addOption(pipeOption())
  .option('--token-file <file>', 'bearer token for a ws:// hub (default $UPDATEPIPE_TOKEN)')
  .option('-v, --verbose', 'progress on stderr', false)
  .addHelpText('after', '\nExits 0 once every update is accepted, 3 if nobody is listening, 2 on bad input (naming the field).')
  .action(async (updates: string[], o: { pipe?: string; verbose: boolean; tokenFile?: string }) => {
    await useTokenFile(o.tokenFile);
    const { pushCommand } = await import('./commands/push.js');
    await pushCommand(updates, { pipe: o.pipe ?? defaultPipeUrl(), verbose: o.verbose });
  });

program
  .command('hub')
  .description('standalone hub: relays updates between its clients; "ready" on stderr once serving')
  .requiredOption('--listen <url>', 'ws://HOST:PORT/PATH or wss://… (port 0 picks one), or unix:/path.sock')
  .option('--token-file <file>', 'accepted bearer tokens, one per line (several allow rotation); default $UPDATEPIPE_TOKEN')
  .option('--insecure-no-auth', 'accept clients without a token (only on a trusted network)', false)
  .option('--cert <file>', 'TLS certificate (PEM) for wss://')
  .option('--key <file>', 'TLS private key (PEM) for wss://')
  .option('-v, --verbose', 'log clients refused, cut off or dropped', false)
  .option('--metrics <host:port>', 'serve Prometheus /metrics and /health here')
  .option('--log-json', 'log JSON lines to stderr', false)
  .action(async (o: { listen: string; tokenFile?: string; insecureNoAuth: boolean; cert?: string; key?: string; verbose: boolean; metrics?: string; logJson: boolean }) => {
    const { hubCommand } = await import('./commands/hub.js');
    await hubCommand(o);
  });

program
  .command('relay')
  .description('bridge two pipes (both ways unless --one-way), keeping origin and seq; "ready" on stderr')
  .requiredOption('--from <url>', 'one pipe (e.g. the node\'s unix: socket)')
  .requiredOption('--to <url>', 'the other pipe (e.g. nats://… or wss://…)')
  .option('--one-way', 'only from → to', false)
  .option('--token-file <file>', 'bearer token for a ws:// side (default $UPDATEPIPE_TOKEN)')
  .option('-v, --verbose', 'log every status event', false)
  .option('--metrics <host:port>', 'serve Prometheus /metrics and /health here')
  .option('--log-json', 'log JSON lines to stderr', false)
  .action(async (o: { from: string; to: string; oneWay: boolean; verbose: boolean; tokenFile?: string; metrics?: string; logJson: boolean }) => {
    await useTokenFile(o.tokenFile);
    const { relayCommand } = await import('./commands/relay.js');
    await relayCommand(o);
  });

interface ServeImapFlags {
  maildir: string;
  listen: string;
  pipe?: string | boolean;
  users?: string;
  verbose: boolean;
  metrics?: string;
  logJson: boolean;
  tlsCert?: string;
  tlsKey?: string;
  listenTls?: string;
  allowPlaintext: boolean;
  watch: boolean;
  rescanInterval?: number;
  maxWatches?: number;
}

program
  .command('serve-imap')
  .description('reference IMAP server on a Maildir, woken by the pipe; "ready" on stderr once serving')
  .requiredOption('--maildir <dir>', 'Maildir++ root (one folder per user)')
  .requiredOption('--listen <host:port>', 'address to serve IMAP on, e.g. 127.0.0.1:1143 (port 0 picks one)')
  .addOption(pipeOption())
  .option('--no-pipe', 'run alone, without a pipe')
  .option('--users <file>', 'user:password lines (password may be a $scrypt$ hash from hash-password)')
  .option('--no-watch', 'do not watch the Maildir for changes other tools make (leave it to `updatepipe watch` or another server)')
  .addOption(rescanOption())
  .addOption(maxWatchesOption())
  .option('-v, --verbose', 'log pipe events and errors to stderr', false)
  .option('--metrics <host:port>', 'serve Prometheus /metrics and /health here')
  .option('--log-json', 'log JSON lines to stderr', false)
  .option('--tls-cert <file>', 'PEM certificate (chain): offers STARTTLS on --listen; reloaded on SIGHUP')
  .option('--tls-key <file>', 'PEM private key for --tls-cert')
  .option('--listen-tls <host:port>', 'also serve implicit TLS (IMAPS, e.g. 0.0.0.0:993); needs --tls-cert and --tls-key')
  .option('--allow-plaintext', 'with a certificate, still accept LOGIN and AUTHENTICATE before STARTTLS', false)
  .action(async (o: ServeImapFlags) => {
    const { serveImapCommand } = await import('./commands/serve-imap.js');
    await serveImapCommand({
      ...(o.tlsCert !== undefined ? { tlsCert: o.tlsCert } : {}),
      ...(o.tlsKey !== undefined ? { tlsKey: o.tlsKey } : {}),
      ...(o.listenTls !== undefined ? { listenTls: o.listenTls } : {}),
      allowPlaintext: o.allowPlaintext,
      logJson: o.logJson,
      noWatch: !o.watch,
      ...(o.rescanInterval !== undefined ? { rescanIntervalS: o.rescanInterval } : {}),
      ...(o.maxWatches !== undefined ? { maxWatches: o.maxWatches } : {}),
      ...(o.metrics !== undefined ? { metrics: o.metrics } : {}),
      maildir: o.maildir,
      listen: o.listen,
      pipe: typeof o.pipe === 'string' ? o.pipe : defaultPipeUrl(),
      noPipe: o.pipe === false,
      ...(o.users !== undefined ? { users: o.users } : {}),
      verbose: o.verbose,
    });
  });

program
  .command('watch')
  .description('announce what other tools do to a Maildir (deliveries into new/, flag renames, deletions, folders); "ready" on stderr once watching')
  .requiredOption('--maildir <dir>', 'Maildir++ root (one folder per user)')
  .addOption(pipeOption())
  .addOption(rescanOption())
  .addOption(maxWatchesOption())
  .option('--token-file <file>', 'bearer token for a ws:// hub (default $UPDATEPIPE_TOKEN)')
  .option('-v, --verbose', 'log every scan problem and pipe event to stderr', false)
  .option('--metrics <host:port>', 'serve Prometheus /metrics and /health here')
  .option('--log-json', 'log JSON lines to stderr', false)
  .addHelpText(
    'after',
    `
Every watcher on a tree (this command, and serve-imap unless --no-watch) joins one election:
one announces, the others stand by and take over within a second if it dies. Changes made
through \`updatepipe mail\` or serve-imap are announced by them, never a second time here.`,
  )
  .action(async (o: { maildir: string; pipe?: string; rescanInterval?: number; maxWatches?: number; tokenFile?: string; verbose: boolean; metrics?: string; logJson: boolean }) => {
    await useTokenFile(o.tokenFile);
    const { watchCommand } = await import('./commands/watch.js');
    await watchCommand({
      maildir: o.maildir,
      pipe: o.pipe ?? defaultPipeUrl(),
      verbose: o.verbose,
      logJson: o.logJson,
      ...(o.metrics !== undefined ? { metrics: o.metrics } : {}),
      ...(o.rescanInterval !== undefined ? { rescanIntervalS: o.rescanInterval } : {}),
      ...(o.maxWatches !== undefined ? { maxWatches: o.maxWatches } : {}),
    });
  });

program
  .command('hash-password')
  .description('read a password from stdin, print a $scrypt$ hash for a --users file')
  .action(async () => {
    const { hashPassword } = await import('../imap/users.js');
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    if (password === '') throw new PipeError('BAD_INPUT', 'empty password on stdin');
    process.stdout.write((await hashPassword(password)) + '\n');
  });

interface MailFlags {
  maildir: string;
  user: string;
  mailbox: string;
  pipe?: string;
  requireListener: boolean;
}

function mailCommand(name: string, description: string): Command {
  return mail
    .command(name)
    .description(description)
    .requiredOption('--maildir <dir>', 'Maildir++ root (one folder per user)')
    .requiredOption('--user <user>', 'the account')
    .addOption(pipeOption())
    .option('--require-listener', 'exit 3 when no server is listening (default: the edit is enough)', false);
}

async function runMail(action: MailAction, o: MailFlags & Omit<MailArgs, keyof MailOptions>): Promise<void> {
  const { runMail: run } = await import('./commands/mail.js');
  await run(action, { ...o, pipe: o.pipe ?? defaultPipeUrl() });
}

const mail = program
  .command('mail')
  .description('edit a Maildir offline, then push the matching update to running servers')
  .addHelpText('after', '\nThe edit is made first; then the update is pushed. With nobody listening the edit still counts (exit 0).');

mailCommand('add', 'deliver a message (FILE, or - for stdin); prints its new UID')
  .argument('<file>', 'RFC 5322 message file, or - for stdin')
  .option('--mailbox <name>', 'mailbox', 'INBOX')
  .option('--flags <flags>', 'initial flags, comma-separated (e.g. \\Seen,$Label)')
  .action(async (file: string, o: MailFlags & { flags?: string }) => runMail('add', { ...o, file }));

mailCommand('flags', 'set, add or remove flags of one message')
  .option('--mailbox <name>', 'mailbox', 'INBOX')
  .requiredOption('--uid <n>', 'the message UID')
  .option('--set <flags>', 'replace the flags with these (comma-separated; empty for none)')
  .option('--add <flags>', 'add these flags')
  .option('--remove <flags>', 'remove these flags')
  .action(async (o: MailFlags & { uid: string; set?: string; add?: string; remove?: string }) => runMail('flags', o));

mailCommand('expunge', 'remove messages')
  .option('--mailbox <name>', 'mailbox', 'INBOX')
  .requiredOption('--uid <set>', 'UID or UID set (e.g. 4 or 3:5,9)')
  .action(async (o: MailFlags & { uid: string }) => runMail('expunge', o));

for (const op of ['create', 'delete'] as const) {
  mailCommand(op, `${op} a mailbox`)
    .requiredOption('--mailbox <name>', 'mailbox (hierarchy separator "/")')
    .action(async (o: MailFlags) => runMail(op, o));
}

mailCommand('rename', 'rename a mailbox (and the mailboxes below it)')
  .requiredOption('--mailbox <name>', 'current name')
  .requiredOption('--to <name>', 'new name')
  .action(async (o: MailFlags & { to: string }) => runMail('rename', o));

program
  .command('stats')
  .description('join the pipe and print what flows through it: rate, types, copies, gaps, resyncs, latency')
  .addOption(pipeOption())
  .option('--interval <seconds>', 'seconds per line', '1')
  .option('--count <n>', 'stop after n lines (0 = until interrupted)', '0')
  .option('--json', 'one JSON object per line', false)
  .option('--token-file <file>', 'bearer token for a ws:// hub (default $UPDATEPIPE_TOKEN)')
  .action(async (o: { pipe?: string; interval: string; count: string; json: boolean; tokenFile?: string }) => {
    const interval = Number(o.interval);
    const count = Number(o.count);
    if (!(interval > 0) || !Number.isInteger(count) || count < 0) throw new PipeError('USAGE', '--interval must be > 0 and --count a whole number');
    await useTokenFile(o.tokenFile);
    const { statsCommand } = await import('./commands/stats.js');
    await statsCommand({ pipe: o.pipe ?? defaultPipeUrl(), intervalMs: interval * 1000, count, json: o.json });
  });

program
  .command('bench')
  .description('throughput, latency, memory, start-up and edit→IDLE of every backend, each beside baselines measured in the same run (starts its own nats-server and redis-server when installed)')
  .option('--json <file>', 'also write the figures as JSON (name, value, unit, baseline, ratio, goal) and a chart beside it (FILE.svg)')
  .option('--quick', 'fewer updates and rounds: under 3 minutes', false)
  .option('--smoke', 'tiny sizes: checks every scenario runs, figures mean nothing', false)
  .option('--only <filter...>', 'run only scenarios whose name contains one of these (case-insensitive, "->" for "→"), e.g. --only "unix pipe throughput" or --only "ws pipe throughput 1->4"')
  .option('--profile <dir>', 'every pusher, listener and hub process writes a CPU profile (node --cpu-prof) into DIR')
  .action(async (o: { json?: string; quick: boolean; smoke: boolean; only?: string[]; profile?: string }) => {
    const { benchCommand } = await import('./commands/bench.js');
    await benchCommand(o);
  });

program
  .command('demo')
  .description('the whole story on the embedded default: an offline edit reaching an IDLE IMAP client, then fan-out, bulk push, socket takeover; exits 0')
  .action(async () => {
    const { demoCommand } = await import('./commands/demo.js');
    await demoCommand();
  });

/** Parses argv with commander and runs the command; CommanderError for usage problems. */
export async function runProgram(argv: string[]): Promise<void> {
  await program.parseAsync(argv);
}
