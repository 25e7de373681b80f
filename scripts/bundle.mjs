/**
 * Bundles `updatepipe push` and `updatepipe mail` (dist/src/cli/{push,mail}-entry.js and
 * what they import) into one file each, dist/src/cli/{push,mail}-bundle.js: loading one
 * module instead of thirty is most of what their start-up can save. The wire codec
 * (msgpackr's JavaScript entry) goes inside; other packages and the NATS and WebSocket
 * backends stay outside (loaded lazily, only when a pipe URL asks for them), and so does
 * prom-client, which only the long-running commands load. The bundles sit beside the
 * entries so their relative paths resolve to the tsc output. esbuild-wasm: no native
 * binaries.
 */
import { build } from 'esbuild-wasm';
import { fileURLToPath } from 'node:url';

const INSIDE = /^msgpackr(\/|$)/;
const packagesOutside = {
  name: 'packages-outside',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (INSIDE.test(args.path) ? undefined : { path: args.path, external: true }));
  },
};

const root = fileURLToPath(new URL('..', import.meta.url));
for (const name of ['push', 'mail']) {
  const out = await build({
    absWorkingDir: root,
    entryPoints: [`dist/src/cli/${name}-entry.js`],
    outfile: `dist/src/cli/${name}-bundle.js`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    plugins: [packagesOutside],
    external: ['../../pipes/nats/*', '../../pipes/ws/*'],
    metafile: true,
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
  });
  // Only the long-running commands may load the metrics library (start-up of push and mail).
  const pulled = Object.values(out.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  if (pulled.some((p) => p.startsWith('prom-client'))) throw new Error(`${name} bundle imports prom-client`);
}
