// Test utilities for Floe users: `import { KeyedOperatorTestHarness } from 'floe/testing'`.
export { KeyedOperatorTestHarness, type HarnessOutput, type KeyedHarnessOptions } from './keyed-operator-test-harness.js';
export { ManualClock } from '../core/clock.js';
export { OperatorTestHarness, type HarnessSnapshot } from './operator-test-harness.js';
export { SourceTestHarness, type SourceHarnessSnapshot, type SourceHarnessOptions } from './source-test-harness.js';
