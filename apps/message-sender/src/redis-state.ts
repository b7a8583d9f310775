import { keyOf } from '@wapi/contracts';
import type { Redis } from 'ioredis';

/**
 * The sender's hot state in Redis (docs/performance.md: every store lookup is a scan, so
 * nothing on the send path reads MongoDB). Families, each with its own hash tag:
 * - `sendledger`: per message, a hash `state` (`claimed` | `calling` | `retry` | `done`), `n`
 *   (Graph calls claimed), `at` (when the last one was claimed or started), `outcome` (JSON,
 *   once `done`). Only `calling` (the request may have left) is ever in doubt.
 * - `pacing`: GCRA "theoretical arrival times" (ms) per number, per (number, recipient)
 *   pair and per number's marketing share.
 * - `sender`: per-number throughput overrides (`mps` hash) and numbers flagged for auth.
 */

const CLAIM = `
local s = redis.call('HMGET', KEYS[1], 'state', 'n', 'at', 'outcome')
if s[1] == 'done' then return {'done', s[4] or ''} end
if s[1] == 'calling' then return {'calling', s[3] or '0'} end
-- absent, 'retry', or 'claimed' by a run that stopped before its call started: a new call number
local n = tonumber(s[2] or '0') + 1
redis.call('HSET', KEYS[1], 'state', 'claimed', 'n', n, 'at', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'go', tostring(n)}
`;

// The claimed call is about to leave: 'claimed' -> 'calling', unless another run took over.
const START = `
local s = redis.call('HMGET', KEYS[1], 'state', 'n')
if s[1] ~= 'claimed' or s[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'calling', 'at', ARGV[2])
return 1
`;

// KEYS: number, pair[, marketing share]. ARGV: now, then (interval ms, tolerance ms) per key.
// GCRA that schedules instead of refusing: the send gets the earliest moment every limit
// allows, and that slot is reserved on every key at once, so a backlog of N jobs gets N
// distinct slots (a delayed job wakes at its own slot instead of all of them retrying
// together). Returns the slot's distance from now in ms (0: go now).
const PACE = `
local now = tonumber(ARGV[1])
local t = now
local tats = {}
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  tats[i] = tat
  local earliest = tat - tonumber(ARGV[3 + (i - 1) * 2])
  if earliest > t then t = earliest end
end
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 + (i - 1) * 2])
  local tat = tats[i]
  if tat < t then tat = t end
  tat = tat + interval
  local ttl = math.ceil(tat - now + interval * 2 + 60000)
  redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', ttl)
end
return string.format('%.3f', t - now)
`;

// A sliding window, Meta's own way of counting throughput (at most N sends in any window):
// the last N send times of a number, newest first. Checked at the moment of the call, so
// that jobs whose delayed wake-ups bunch together still never put N + 1 in one window.
// KEYS[1] list; ARGV: now, N, window ms. Returns 0 (recorded) or the wait in ms.
const WINDOW = `
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local oldest = redis.call('LINDEX', KEYS[1], n - 1)
if oldest then
  local wait = tonumber(oldest) + tonumber(ARGV[3]) - now
  if wait > 0 then return tostring(wait) end
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, n - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return '0'
`;

// Pushes a key's arrival time to at least ARGV[1] (a 130429 or 131056 from Meta says we were early).
const PUSH = `
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > tat then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
`;

export type Claim =
  | { kind: 'go'; call: number }
  | { kind: 'done'; outcome: string }
  | { kind: 'calling'; since: number };

/** One GCRA limit: `ratePerSecond` sustained, `burst` at once. */
export interface Limit {
  key: string;
  intervalMs: number;
  burst: number;
}

export function createRedisState(redis: Redis, prefix: string) {
  const ledgerKey = (ws: string, messageId: string) => keyOf(prefix, 'sendledger', ws, messageId);
  const ledgerTtlMs = 7 * 24 * 3600_000;
  return {
    ledgerKey,
    numberKey: (pnid: string) => keyOf(prefix, 'pacing', 'n', pnid),
    windowKey: (pnid: string) => keyOf(prefix, 'pacing', 'w', pnid),
    marketingKey: (pnid: string) => keyOf(prefix, 'pacing', 'm', pnid),
    pairKey: (pnid: string, to: string) => keyOf(prefix, 'pacing', 'p', pnid, to),
    mpsKey: () => keyOf(prefix, 'sender', 'mps'),
    flaggedKey: () => keyOf(prefix, 'sender', 'auth-flagged'),

    /** Claims the next Graph call of a message, unless one is in flight or it is done. */
    async claim(ws: string, messageId: string, now: number): Promise<Claim> {
      const [kind, value] = (await redis.eval(CLAIM, 1, ledgerKey(ws, messageId), now, ledgerTtlMs)) as [
        string,
        string,
      ];
      if (kind === 'go') return { kind, call: Number(value) };
      if (kind === 'done') return { kind, outcome: value };
      return { kind: 'calling', since: Number(value) };
    },
    /** The recorded outcome of a message that is done, else undefined. */
    async outcome(ws: string, messageId: string): Promise<unknown> {
      const [st, outcome] = await redis.hmget(ledgerKey(ws, messageId), 'state', 'outcome');
      return st === 'done' && outcome ? JSON.parse(outcome) : undefined;
    },
    /**
     * Marks claimed call `call` as leaving now. False when another run claimed a later call
     * (this one must not call). Until then a dead run's claim is simply taken over.
     */
    async start(ws: string, messageId: string, call: number, now: number): Promise<boolean> {
      return (await redis.eval(START, 1, ledgerKey(ws, messageId), String(call), now)) === 1;
    },
    /** The call ended and Meta did not take the message: the next attempt may call again. */
    async release(ws: string, messageId: string): Promise<void> {
      await redis.hset(ledgerKey(ws, messageId), 'state', 'retry');
    },
    /** The message's final outcome (sent, or failed for good). */
    async finish(ws: string, messageId: string, outcome: object): Promise<void> {
      await redis.hset(ledgerKey(ws, messageId), 'state', 'done', 'outcome', JSON.stringify(outcome));
    },
    /** Forgets a message's hot state (dead-letter replay). */
    async reset(ws: string, messageId: string): Promise<void> {
      await redis.hset(ledgerKey(ws, messageId), 'state', 'retry');
      await redis.hdel(ledgerKey(ws, messageId), 'outcome');
    },

    /** Reserves the earliest slot every limit allows; returns how far from `now` it is (ms, 0 = now). */
    async pace(limits: Limit[], now: number): Promise<number> {
      const args: (string | number)[] = [now];
      for (const l of limits) args.push(l.intervalMs, l.intervalMs * (l.burst - 1));
      const wait = Number(await redis.eval(PACE, limits.length, ...limits.map((l) => l.key), ...args));
      return wait > 0 ? Math.ceil(wait) : 0;
    },
    /** Records a send in the number's sliding window, or says how long until one fits (ms). */
    async window(key: string, max: number, windowMs: number, now: number): Promise<number> {
      const wait = Number(await redis.eval(WINDOW, 1, key, now, max, windowMs));
      return wait > 0 ? Math.ceil(wait) : 0;
    },
    /** Nobody passes `key` before `until` (epoch ms). */
    async push(key: string, until: number): Promise<void> {
      await redis.eval(PUSH, 1, key, until.toFixed(3), 120_000);
    },
  };
}
export type RedisState = ReturnType<typeof createRedisState>;
