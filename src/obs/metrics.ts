import http from 'node:http';
import type net from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PipeError } from '../errors.js';

/** Label values of one sample, e.g. `{ pipe: 'hub' }`. */
export type Labels = Readonly<Record<string, string>>;
/** Read at scrape time from counters the components keep anyway. */
type Sample = () => number;

/** Seconds; push→handler latency from the envelope timestamp (clock skew clamps at 0). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface LatencyHistogram {
  observe(seconds: number): void;
}

interface Sampled {
  labelNames: readonly string[];
  samples: { labels: Labels; read: Sample }[];
}

/**
 * The metrics of one long-running command (hub, relay, serve-imap), on prom-client: the
 * process and Node.js families of `collectDefaultMetrics()` (memory, CPU, event-loop lag,
 * GC, handles) beside the `updatepipe_*` ones. Only those commands import this module, so
 * `push` and `mail` never load prom-client.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly sampled = new Map<string, Sampled>();
  private readonly histograms = new Map<string, Histogram>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Registers a value read at scrape time; one family may hold several label sets. */
  add(name: string, type: 'counter' | 'gauge', help: string, read: Sample, labels: Labels = {}): void {
    const existing = this.sampled.get(name);
    if (existing) {
      if (Object.keys(labels).join() !== existing.labelNames.join()) throw new Error(`metric ${name}: labels ${Object.keys(labels).join()} differ from ${existing.labelNames.join()}`);
      existing.samples.push({ labels, read });
      return;
    }
    const family: Sampled = { labelNames: Object.keys(labels), samples: [{ labels, read }] };
    this.sampled.set(name, family);
    const common = { name, help, labelNames: family.labelNames, registers: [this.registry] };
    if (type === 'gauge') {
      new Gauge({
        ...common,
        collect() {
          for (const s of family.samples) this.set(s.labels, s.read());
        },
      });
    } else {
      // The components count; a scrape copies their totals in (prom-client counters only add).
      new Counter({
        ...common,
        collect() {
          this.reset();
          for (const s of family.samples) this.inc(s.labels, s.read());
        },
      });
    }
  }

  /** The push→handler latency histogram (one per name, shared by every pipe of the process). */
  histogram(name: string, help: string): LatencyHistogram {
    let h = this.histograms.get(name);
    if (!h) {
      h = new Histogram({ name, help, buckets: LATENCY_BUCKETS, registers: [this.registry] });
      this.histograms.set(name, h);
    }
    const histogram = h;
    return { observe: (seconds) => histogram.observe(Math.max(0, seconds)) };
  }

  /** Prometheus text exposition of everything registered. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** `/metrics` (Prometheus) and `/health` (JSON) on HOST:PORT. */
export async function serveMetrics(where: string, metrics: Metrics, health: () => Record<string, unknown>): Promise<http.Server> {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(where);
  if (!m) throw new PipeError('USAGE', `--metrics: expected HOST:PORT, got ${JSON.stringify(where)}`);
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.render().then(
        (text) => res.writeHead(200, { 'Content-Type': metrics.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
    } else if (req.url === '/health') {
      const body = health();
      res.writeHead(body['status'] === 'ok' ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify(body) + '\n');
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new PipeError('USAGE', `--metrics: cannot listen on ${where}: ${(err as NodeJS.ErrnoException).code}`)));
    server.listen(Number(m[3]), (m[1] ?? m[2])!, () => resolve());
  });
  server.unref();
  return server;
}

export function metricsAddress(server: http.Server): string {
  const a = server.address() as net.AddressInfo;
  return `${a.address}:${a.port}`;
}
