import { test } from 'node:test';
import fc from 'fast-check';
import { TARGETS } from './targets.js';

// A short pass in every test run; `npm run fuzz` spends a real time budget.
for (const t of TARGETS) {
  test(`fuzz: ${t.name}`, () => {
    fc.assert(fc.property(t.input, (x) => t.run(x)), { numRuns: 300 });
  });
}
