import http from 'node:http';
import type net from 'node:net';
import { PipeError } from '../errors.js';

/** Prometheus text format (0.0.4), just what the CLI's long-running commands expose. */
type Sample = () => number;

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  samples: Map<string, Sample>;
}

/** Seconds; push→handler latency from the envelope timestamp (clock skew clamps at 0). */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram {
  private readonly counts = new Array<number>(BUCKETS.length).fill(0);
  private sum = 0;
  private n = 0;

  observe(seconds: number): void {
    const v = Math.max(0, seconds);
    this.sum += v;
    this.n++;
    for (let i = 0; i < BUCKETS.length; i++) if (v <= BUCKETS[i]!) this.counts[i]!++;
  }

  render(name: string, help: string): string {
    let out = `# HELP ${name} ${help}\n# TYPE ${name} histogram\n`;
    BUCKETS.forEach((b, i) => (out += `${name}_bucket{le="${b}"} ${this.counts[i]}\n`));
    out += `${name}_bucket{le="+Inf"} ${this.n}\n${name}_sum ${this.sum}\n${name}_count ${this.n}\n`;
    return out;
  }
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly histograms = new Map<string, { h: Histogram; help: string }>();

  /** Registers a value read at scrape time; `labels` like `side="from"`. */
  add(name: string, type: 'counter' | 'gauge', help: string, sample: Sample, labels = ''): void {
    let f = this.families.get(name);
    if (!f) {
      f = { help, type, samples: new Map() };
      this.families.set(name, f);
    }
    f.samples.set(labels, sample);
  }

  histogram(name: string, help: string): Histogram {
    let e = this.histograms.get(name);
    if (!e) {
      e = { h: new Histogram(), help };
      this.histograms.set(name, e);
    }
    return e.h;
  }

  render(): string {
    let out = '';
    for (const [name, f] of this.families) {
      out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n`;
      for (const [labels, sample] of f.samples) out += `${name}${labels ? `{${labels}}` : ''} ${sample()}\n`;
    }
    for (const [name, { h, help }] of this.histograms) out += h.render(name, help);
    return out;
  }
}

/** `/metrics` (Prometheus) and `/health` (JSON) on HOST:PORT. */
export async function serveMetrics(where: string, metrics: Metrics, health: () => Record<string, unknown>): Promise<http.Server> {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(where);
  if (!m) throw new PipeError('USAGE', `--metrics: expected HOST:PORT, got ${JSON.stringify(where)}`);
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(metrics.render());
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
