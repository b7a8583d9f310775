import { describe, expect, it } from 'vitest';
import { GroupCommit, GroupCommitTimeout } from '../src/group-commit';

/** A write the test finishes by hand: what a hung database looks like to the group commit. */
function heldWrites() {
  const calls: { docs: number[]; finish: () => void; fail: (e: Error) => void }[] = [];
  const write = (docs: number[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ docs, finish: resolve, fail: reject });
    });
  return { calls, write };
}

describe('GroupCommit', () => {
  it('writes concurrent callers in one batch and resolves them when it lands', async () => {
    const { calls, write } = heldWrites();
    const commit = new GroupCommit<number>(write, 100, 2, 5_000);
    const waiting = [1, 2, 3].map((n) => commit.add(n));
    await expect.poll(() => calls.length).toBe(1);
    expect(calls[0]?.docs).toEqual([1, 2, 3]);
    calls[0]?.finish();
    await Promise.all(waiting);
    expect(commit.batches).toBe(1);
  });

  it('rejects the callers of a write that hangs past the timeout, with one timer per batch', async () => {
    const { calls, write } = heldWrites();
    const commit = new GroupCommit<number>(write, 100, 1, 100);
    const started = Date.now();
    const first = commit.add(1).then(
      () => 'written',
      (e: unknown) => e,
    );
    await expect.poll(() => calls.length).toBe(1);
    // Waits for a write slot (only one in flight) and times out there: never written.
    const second = commit.add(2).then(
      () => 'written',
      (e: unknown) => e,
    );
    expect(await first).toBeInstanceOf(GroupCommitTimeout);
    expect(await second).toBeInstanceOf(GroupCommitTimeout);
    expect(Date.now() - started).toBeLessThan(3_000);
    // The hung write finally lands: the timed-out caller stays rejected, the queued one was dropped.
    calls[0]?.finish();
    const third = commit.add(3);
    await expect.poll(() => calls.length).toBe(2);
    expect(calls[1]?.docs).toEqual([3]);
    calls[1]?.finish();
    await third;
  });

  it('passes a failed write on to every caller of its batch', async () => {
    const { calls, write } = heldWrites();
    const commit = new GroupCommit<number>(write, 100, 2, 5_000);
    const waiting = [1, 2].map((n) => commit.add(n).catch((e: unknown) => e));
    await expect.poll(() => calls.length).toBe(1);
    calls[0]?.fail(new Error('database down'));
    for (const result of await Promise.all(waiting)) expect((result as Error).message).toBe('database down');
  });
});
