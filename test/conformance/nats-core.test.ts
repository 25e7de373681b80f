import { natsHarness } from '../helpers/nats-harness.js';
import { conformance } from './suite.js';

conformance(natsHarness('core'));
