/**
 * Bundles `updatepipe push` (dist/src/cli/push-entry.js and what it imports) into one file,
 * dist/src/cli/push-bundle.js: loading one module instead of ~30 is most of what push's
 * start-up can save. Packages and the NATS and WebSocket backends stay outside (loaded
 * lazily, only when a pipe URL asks for them); the bundle sits beside push-entry.js so
 * their relative paths resolve to the tsc output. esbuild-wasm: no native binaries.
 */
import { build } from 'esbuild-wasm';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/cli/push-entry.js'],
  outfile: 'dist/src/cli/push-bundle.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  external: ['../../pipes/nats/*', '../../pipes/ws/*'],
  logLevel: 'warning',
});
