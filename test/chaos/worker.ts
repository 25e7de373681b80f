/**
 * One chaos participant in its own process (so it can be killed or frozen), driven by
 * test/chaos/run.ts. Argument: JSON {role, url, n?, rate?, token?, skewMs?}.
 * listen: records every update's index (uid − 1) and every resync (−1) in arrival order;
 *   on "report" (stdin) prints {"events": [...]}.
 * push: pushes n indexed updates at `rate`/s, prints {"accepted": [...], "rejected": k}.
 */
import { createInterface } from 'node:readline';
import { openPipe } from '../../src/pipe/open-pipe.js';

interface ChaosSpec {
  role: 'listen' | 'push';
  url: string;
  n?: number;
  rate?: number;
  token?: string;
  /** Shifts this process's clock (envelope ts) by this much: clock skew between nodes. */
  skewMs?: number;
}

const spec = JSON.parse(process.argv[2]!) as ChaosSpec;
const say = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
if (spec.skewMs) {
  const real = Date.now.bind(Date);
  Date.now = () => real() + spec.skewMs!;
}
const pipe = await openPipe(spec.url, spec.token ? ({ token: spec.token } as object) : {});
const stdin = createInterface({ input: process.stdin });
stdin.on('close', () => process.exit(0));

if (spec.role === 'listen') {
  const events: number[] = [];
  await pipe.listen((u) => void events.push(u.type === 'resync' ? -1 : u.type === 'flags' ? u.uid - 1 : -2));
  say({ ready: true });
  stdin.on('line', (l) => {
    if (l.trim() === 'report') {
      say({ events });
      process.exit(0);
    }
  });
} else {
  await pipe.initPush();
  say({ ready: true });
  const accepted: number[] = [];
  let rejected = 0;
  const reasons = new Map<string, number>();
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  const n = spec.n ?? 1000;
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / (spec.rate ?? 1000) - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      pipe.push({ type: 'flags', user: 'chaos', mailbox: 'INBOX', uid: i + 1, flags: ['\\Seen'] }).then(
        () => void accepted.push(i),
        (err: unknown) => {
          rejected++;
          const why = `${(err as { code?: string }).code ?? 'ERROR'}: ${(err as Error).message}`.slice(0, 160);
          reasons.set(why, (reasons.get(why) ?? 0) + 1);
        },
      ),
    );
  }
  await Promise.all(pending);
  await pipe.close().catch(() => {});
  // Why pushes were refused, for whoever reads the run: the judge does not need it.
  for (const [why, k] of reasons) process.stderr.write(`chaos pusher: ${k} push(es) rejected: ${why}\n`);
  say({ accepted, rejected });
  process.exit(0);
}
