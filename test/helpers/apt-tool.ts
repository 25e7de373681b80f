import { findBinary } from '../../src/bench/services.js';

/**
 * `skip` option for suites that need a tool installed with apt: in CI a missing binary is a
 * failure (thrown at load, so the suite cannot pass by skipping), elsewhere the suite is
 * skipped with a loud message. `.ci/run` installs what these name.
 */
export function aptToolSkip(binary: string, aptPackage: string): string | false {
  if (findBinary(binary)) return false;
  const msg = `${binary} is not installed: its tests cannot run (apt-get install ${aptPackage})`;
  if (process.env['CI']) throw new Error(msg);
  process.stderr.write(`\n!!! ${msg}; SKIPPING them\n\n`);
  return msg;
}
