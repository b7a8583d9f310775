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
