// Restart strategies (Flink's, with its defaults, flink-anchor.md 8.3): whether a failed job
// restarts and after what delay. Pure decisions over the failure history; the caller sleeps.
import { FloeError } from '../core/errors.js';

export type RestartStrategyOptions =
  | { type: 'none' }
  | { type: 'fixed-delay'; attempts?: number; delayMs?: number }
  | { type: 'exponential-delay'; initialBackoffMs?: number; maxBackoffMs?: number; backoffMultiplier?: number; resetBackoffThresholdMs?: number; jitterFactor?: number }
  | { type: 'failure-rate'; maxFailuresPerInterval?: number; failureRateIntervalMs?: number; delayMs?: number };

/** Decides, failure by failure, whether to restart and how long to wait first. */
export interface RestartStrategy {
  /** `now`: when the job failed. Returns the delay before restarting, or undefined to give up. */
  onFailure(now: number): number | undefined;
  describe(): string;
}

export function createRestartStrategy(options: RestartStrategyOptions, random: () => number = Math.random): RestartStrategy {
  switch (options.type) {
    case 'none':
      return { onFailure: () => undefined, describe: () => 'no restarts' };
    case 'fixed-delay': {
      const attempts = options.attempts ?? 1;
      const delay = options.delayMs ?? 1000;
      let used = 0;
      return {
        onFailure: () => (used++ < attempts ? delay : undefined),
        describe: () => `fixed delay (${attempts} attempts, ${delay} ms)`,
      };
    }
    case 'exponential-delay': {
      const initial = options.initialBackoffMs ?? 1000;
      const max = options.maxBackoffMs ?? 60_000;
      const multiplier = options.backoffMultiplier ?? 1.5;
      const reset = options.resetBackoffThresholdMs ?? 3_600_000;
      const jitter = options.jitterFactor ?? 0.1;
      let backoff = initial;
      let lastFailure = Number.NEGATIVE_INFINITY;
      return {
        onFailure: (now) => {
          if (now - lastFailure >= reset) backoff = initial; // a long quiet period resets the backoff
          lastFailure = now;
          const delay = Math.min(backoff, max);
          backoff = Math.min(backoff * multiplier, max);
          return Math.max(0, Math.round(delay * (1 + jitter * (2 * random() - 1))));
        },
        describe: () => `exponential delay (${initial} ms to ${max} ms, x${multiplier})`,
      };
    }
    case 'failure-rate': {
      const maxFailures = options.maxFailuresPerInterval ?? 1;
      const interval = options.failureRateIntervalMs ?? 60_000;
      const delay = options.delayMs ?? 1000;
      const failures: number[] = [];
      return {
        onFailure: (now) => {
          failures.push(now);
          while (failures.length > 0 && failures[0] <= now - interval) failures.shift();
          return failures.length <= maxFailures ? delay : undefined;
        },
        describe: () => `failure rate (${maxFailures} per ${interval} ms, ${delay} ms delay)`,
      };
    }
    default:
      throw new FloeError('INVALID_ARGUMENT', `Unknown restart strategy ${JSON.stringify(options)}`);
  }
}

/** Flink's default: exponential delay when checkpointing is on, no restarts otherwise. */
export function defaultRestartStrategy(checkpointing: boolean): RestartStrategyOptions {
  return checkpointing ? { type: 'exponential-delay' } : { type: 'none' };
}
