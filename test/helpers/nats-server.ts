import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findBinary, freePort, waitPort } from '../../src/bench/services.js';

export { freePort } from '../../src/bench/services.js';

/** The nats-server binary, or null. */
export const natsServerBinary = (): string | null => findBinary('nats-server');

/**
 * `skip` option for suites that need nats-server: in CI a missing binary is a failure
 * (thrown here, at load), elsewhere the suite is skipped with a loud message.
 */
export function natsSkip(): string | false {
  if (natsServerBinary()) return false;
  const msg = 'nats-server is not installed: NATS tests cannot run (apt-get install nats-server)';
  if (process.env['CI']) throw new Error(msg);
  process.stderr.write(`\n!!! ${msg}; SKIPPING them\n\n`);
  return msg;
}

export interface NatsServerOptions {
  jetstream?: boolean;
  user?: string;
  pass?: string;
  port?: number;
  /** Extra config file text (cluster blocks). */
  config?: string;
}

/** A private nats-server on a random loopback port with its own temp store. */
export class NatsServer {
  child!: ChildProcess;
  port = 0;
  dir = '';
  log = '';

  private constructor(private readonly o: NatsServerOptions) {}

  static async start(o: NatsServerOptions = {}): Promise<NatsServer> {
    const s = new NatsServer(o);
    s.dir = await mkdtemp(path.join(os.tmpdir(), 'up-nats-'));
    s.port = o.port ?? (await freePort());
    try {
      await s.spawn();
    } catch (err) {
      // One that never listened must not outlive the failure: its pipes would keep the test process alive.
      await s.kill();
      await rm(s.dir, { recursive: true, force: true });
      throw err;
    }
    return s;
  }

  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async spawn(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.port)];
    if (this.o.jetstream) args.push('-js', '-sd', path.join(this.dir, 'js'));
    if (this.o.user) args.push('--user', this.o.user, '--pass', this.o.pass ?? '');
    if (this.o.config) {
      const conf = path.join(this.dir, 'server.conf');
      await writeFile(conf, this.o.config);
      args.push('-c', conf);
    }
    this.log = '';
    this.child = spawn(natsServerBinary()!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.log += d));
    this.child.stderr!.on('data', (d: Buffer) => (this.log += d));
    await waitPort(this.port, this.child, 'nats-server', () => this.log);
  }

  /** SIGKILL: no goodbye to clients. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.spawn();
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Three JetStream nodes clustered on loopback. */
/** A cluster node's JetStream directory, by its client port. */
const storeOf = (port: number): string => `${os.tmpdir()}/up-nats-cluster-${port}`;

export class NatsCluster {
  nodes: NatsServer[] = [];

  /**
   * A port that freePort() found free can be taken before the node binds it (test files
   * run two at a time): CI once saw a node exit with "address already in use" on its route
   * port while the other two ran on, their pipes holding the test file open for good. So
   * the nodes that did start are stopped, and the cluster is tried again on new ports.
   */
  static async start(size = 3, attempts = 3): Promise<NatsCluster> {
    for (let attempt = 1; ; attempt++) {
      const c = new NatsCluster();
      const clientPorts = await Promise.all(Array.from({ length: size }, freePort));
      const routePorts = await Promise.all(Array.from({ length: size }, freePort));
      const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
      const started = await Promise.allSettled(
        clientPorts.map((port, i) =>
          NatsServer.start({
            port,
            config: `server_name: n${i}\njetstream { store_dir: "${storeOf(port)}" }\ncluster { name: upc, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }\n`,
          }),
        ),
      );
      c.nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) return c;
      await c.stop();
      await Promise.all(clientPorts.map((port) => rm(storeOf(port), { recursive: true, force: true })));
      if (attempt >= attempts) throw failed.reason;
    }
  }

  get servers(): string {
    return this.nodes.map((n) => n.hostPort).join(',');
  }

  /** Creates an R3 stream once the cluster has elected its JetStream leader. */
  async createStream(name: string, subjects: string[]): Promise<void> {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: this.servers.split(',') });
    try {
      for (let i = 0; ; i++) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 1000 });
          await jsm.streams.add({ name, subjects, num_replicas: 3, duplicate_window: 120e9 });
          return;
        } catch (err) {
          if (i > 100) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      await nc.close();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map(async (n) => {
      await n.stop();
      await rm(storeOf(n.port), { recursive: true, force: true });
    }));
  }
}
