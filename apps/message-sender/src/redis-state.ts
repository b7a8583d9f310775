import { keyOf, sentKey } from '@wapi/contracts';
import type { Redis } from 'ioredis';

/**
 * The sender's hot state in Redis (docs/performance.md: every store lookup is a scan, so
 * nothing on the send path reads MongoDB). Families, each with its own hash tag:
 * - `sendledger`: per message, a hash `state` (`claimed` | `calling` | `retry` | `done`), `n`
 *   (Graph calls claimed), `at` (when the last one was claimed or started), `outcome` (JSON,
 *   once `done`). Only `calling` (the request may have left) is ever in doubt.
 * - `pacing`: GCRA "theoretical arrival times" (ms) per number, per (number, recipient)
 *   pair and per number's marketing share; per business portfolio a sorted set of the
 *   recipients of business-initiated messages in the last 24 h (member = wa_id, score = last
 *   send, ms), for the messaging limit.
 * - `sender`: per-number throughput overrides (`mps` hash), numbers flagged for auth, and
 *   per number its latest sent message (`latest`, the probe that settles sends in doubt).
 * - `sent`: per message, the wamid of a message Meta is known to have accepted, written by
 *   whoever sees its status webhook (`biz_opaque_callback_data` = message id); settles a
 *   send left in doubt by a dead worker without a second Graph call. Read here only.
 */

const CLAIM = `
local s = redis.call('HMGET', KEYS[1], 'state', 'n', 'at', 'outcome')
if s[1] == 'done' then return {'done', s[4] or ''} end
if s[1] == 'calling' then return {'calling', s[3] or '0', s[2] or '1'} end
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

// KEYS: the limits (number, pair, marketing lane, ...). ARGV: now, not-before, most ms
// ahead a slot may be reserved (-1: any), then (interval ms, tolerance ms) per key.
// GCRA that schedules instead of refusing: the send gets the earliest moment (not before
// ARGV[2]) every limit allows, and that slot is reserved on every key at once, so a backlog
// of N jobs gets N distinct slots (a delayed job wakes at its own slot instead of all of
// them retrying together). Returns the slot's distance from now in ms (0: go now), negative
// when the slot is further ahead than allowed and nothing was reserved.
const PACE = `
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local tats = {}
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  tats[i] = tat
  local earliest = tat - tonumber(ARGV[5 + (i - 1) * 2])
  if earliest > t then t = earliest end
end
local ahead = tonumber(ARGV[3])
if ahead >= 0 and t - now > ahead then return string.format('%.3f', now - t) end
for i = 1, #KEYS do
  local interval = tonumber(ARGV[4 + (i - 1) * 2])
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

// The portfolio messaging limit (§5.3): unique recipients of business-initiated messages in
// a rolling 24 h. KEYS[1] sorted set (wa_id -> last send, ms). ARGV: now, window ms, limit,
// wa_id. A recipient already counted always passes (and is counted from now again, as Meta
// counts "reached in the last 24 h"); a new one passes while the set is below the limit.
// Returns 0 (counted) or the ms until the oldest recipient leaves the window.
const REACH = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(math.max(1, tonumber(oldest[2]) + window - now))
`;

/** Meta's messaging-limit window (§5.3): rolling 24 h. */
export const REACH_WINDOW_MS = 24 * 3600_000;

/** A message the sender recorded as sent, and when. */
export interface SentMark {
  workspaceId: string;
  messageId: string;
  at: number;
}

export type Claim =
  | { kind: 'go'; call: number }
  | { kind: 'done'; outcome: string }
  | { kind: 'calling'; since: number; call: number };

/** One GCRA limit: `ratePerSecond` sustained, `burst` at once. */
export interface Limit {
  key: string;
  intervalMs: number;
  burst: number;
}

type Script = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown>;

/**
 * The scripts as commands of `redis` (ioredis `defineCommand`): sent as EVALSHA, with EVAL
 * only after a NOSCRIPT. A plain EVAL sends the script's text with every call, and writing
 * those strings was the sender's largest single cost at 1,000 messages/s (CPU profile).
 */
function defineScripts(redis: Redis) {
  const scripts = { CLAIM, START, PACE, WINDOW, PUSH, REACH };
  const commands = redis as unknown as Record<string, Script>;
  const defined = {} as Record<keyof typeof scripts, Script>;
  for (const [name, lua] of Object.entries(scripts) as [keyof typeof scripts, string][]) {
    const command = `wapiSender${name}`;
    if (typeof commands[command] !== 'function') redis.defineCommand(command, { lua });
    defined[name] = (...args) => (commands[command] as Script).apply(redis, args);
  }
  return defined;
}

export function createRedisState(redis: Redis, prefix: string) {
  const run = defineScripts(redis);
  const ledgerKey = (ws: string, messageId: string) => keyOf(prefix, 'sendledger', ws, messageId);
  const ledgerTtlMs = 7 * 24 * 3600_000;
  return {
    ledgerKey,
    numberKey: (pnid: string) => keyOf(prefix, 'pacing', 'n', pnid),
    windowKey: (pnid: string) => keyOf(prefix, 'pacing', 'w', pnid),
    marketingKey: (pnid: string) => keyOf(prefix, 'pacing', 'm', pnid),
    pairKey: (pnid: string, to: string) => keyOf(prefix, 'pacing', 'p', pnid, to),
    reachKey: (businessId: string) => keyOf(prefix, 'pacing', 'b', businessId),
    sentKey: (ws: string, messageId: string) => sentKey(prefix, ws, messageId),
    mpsKey: () => keyOf(prefix, 'sender', 'mps'),
    flaggedKey: () => keyOf(prefix, 'sender', 'auth-flagged'),

    /** Claims the next Graph call of a message, unless one is in flight or it is done. */
    async claim(ws: string, messageId: string, now: number): Promise<Claim> {
      const [kind, value, n] = (await run.CLAIM(1, ledgerKey(ws, messageId), now, ledgerTtlMs)) as [
        string,
        string,
        string | undefined,
      ];
      if (kind === 'go') return { kind, call: Number(value) };
      if (kind === 'done') return { kind, outcome: value };
      return { kind: 'calling', since: Number(value), call: Number(n ?? 1) };
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
      return (await run.START(1, ledgerKey(ws, messageId), String(call), now)) === 1;
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

    /**
     * Reserves the earliest slot, not before `notBefore` (default `now`), that every limit
     * allows; returns how far from `now` it is (ms, 0 = now). With `maxAheadMs`, a slot
     * further ahead is not reserved: the answer is then `{ reserved: false, wait }`.
     */
    async pace(limits: Limit[], now: number, notBefore = now, maxAheadMs = -1): Promise<number> {
      const wait = await this.tryPace(limits, now, notBefore, maxAheadMs);
      return wait.wait;
    },
    /** `pace`, telling whether the slot was reserved (it is not when beyond `maxAheadMs`). */
    async tryPace(
      limits: Limit[],
      now: number,
      notBefore = now,
      maxAheadMs = -1,
    ): Promise<{ reserved: boolean; wait: number }> {
      const args: (string | number)[] = [now, Math.max(now, notBefore), maxAheadMs];
      for (const l of limits) args.push(l.intervalMs, l.intervalMs * (l.burst - 1));
      const wait = Number(await run.PACE(limits.length, ...limits.map((l) => l.key), ...args));
      if (wait < 0) return { reserved: false, wait: Math.ceil(-wait) };
      return { reserved: true, wait: wait > 0 ? Math.ceil(wait) : 0 };
    },
    /** Records a send in the number's sliding window, or says how long until one fits (ms). */
    async window(key: string, max: number, windowMs: number, now: number): Promise<number> {
      const wait = Number(await run.WINDOW(1, key, now, max, windowMs));
      return wait > 0 ? Math.ceil(wait) : 0;
    },
    /**
     * Counts `waId` against the portfolio's messaging limit: 0 when it may be sent (already
     * counted, or a free place), else the ms until a place frees.
     */
    async reach(businessId: string, waId: string, limit: number, now: number): Promise<number> {
      return Number(
        await run.REACH(1, keyOf(prefix, 'pacing', 'b', businessId), now, REACH_WINDOW_MS, limit, waId),
      );
    },
    /** The wamid of a message whose status webhook was seen (see `sentKey`), if any. */
    async settled(ws: string, messageId: string): Promise<string | undefined> {
      return (await redis.get(sentKey(prefix, ws, messageId))) ?? undefined;
    },
    /** Records the number's latest sent message (the probe of sends in doubt). */
    async markSent(pnid: string, mark: SentMark): Promise<void> {
      await redis.set(keyOf(prefix, 'sender', 'latest', pnid), JSON.stringify(mark), 'PX', 3_600_000);
    },
    /** The number's latest sent message, if one was sent in the last hour. */
    async latestSent(pnid: string): Promise<SentMark | undefined> {
      const raw = await redis.get(keyOf(prefix, 'sender', 'latest', pnid));
      return raw ? (JSON.parse(raw) as SentMark) : undefined;
    },
    /**
     * Nobody passes `key` before `until` (epoch ms); the key lives `ttlMs` (default 2 min)
     * when this moves it. Also books a block of slots handed out in bulk (`park.ts`).
     */
    async push(key: string, until: number, ttlMs = 120_000): Promise<void> {
      await run.PUSH(1, key, until.toFixed(3), Math.ceil(ttlMs));
    },
  };
}
export type RedisState = ReturnType<typeof createRedisState>;
