import { wsHarness } from '../helpers/ws-harness.js';
import { conformance } from './suite.js';

conformance(wsHarness());
