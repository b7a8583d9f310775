import type { Scheduler } from './ports';

/**
 * Runs `fn` after at least `ms` wall-clock milliseconds. libuv measures timers against a loop
 * time cached at the start of the event-loop iteration, so a plain `setTimeout(fn, ms)` can run
 * a little before `Date.now()` has advanced by `ms`; the sandbox promises its configured delays
 * (status timings, retry backoff) as lower bounds, so an early timer is re-armed for the rest.
 * Every live timer is kept in `timers` so reset/close can clear it.
 */
export function atLeast(timers: Set<NodeJS.Timeout>, ms: number, fn: () => void): void {
  const due = Date.now() + ms;
  const arm = (wait: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      const left = due - Date.now();
      if (left > 0) arm(left);
      else fn();
    }, wait);
    timers.add(timer);
  };
  arm(ms);
}

/** A {@link Scheduler} whose pending work can all be dropped at once (reset, close). */
export interface TimerSet extends Scheduler {
  /** Cancels everything scheduled and not yet run. */
  clear(): void;
}

export function createTimerSet(): TimerSet {
  const timers = new Set<NodeJS.Timeout>();
  return {
    later(ms, fn) {
      atLeast(timers, ms, fn);
    },
    clear() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
