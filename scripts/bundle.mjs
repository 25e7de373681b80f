/**
 * Bundles `updatepipe push` and `updatepipe mail` (dist/src/cli/{push,mail}-entry.js and
 * what they import) into one file each, dist/src/cli/{push,mail}-bundle.js: loading one
 * module instead of thirty is most of what their start-up can save. Packages and the NATS
 * and WebSocket backends stay outside (loaded lazily, only when a pipe URL asks for them);
 * the bundles sit beside the entries so their relative paths resolve to the tsc output.
 * esbuild-wasm: no native binaries.
 */
import { build } from 'esbuild-wasm';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const name of ['push', 'mail']) {
  await build({
    absWorkingDir: root,
    entryPoints: [`dist/src/cli/${name}-entry.js`],
    outfile: `dist/src/cli/${name}-bundle.js`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    external: ['../../pipes/nats/*', '../../pipes/ws/*'],
    logLevel: 'warning',
  });
}
