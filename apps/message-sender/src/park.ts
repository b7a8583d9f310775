import type { Redis } from 'ioredis';

/**
 * Parking a backlogged number's waiting jobs in bulk (issue #13: "a backlog on one number
 * never delays another number's messages").
 *
 * BullMQ hands jobs out in order. Without this, a burst of 10,000 jobs on one number gives
 * each of them one run (pace, then delayed) before a job of another number enqueued behind
 * them is taken: 10,000 activations ahead of it (the bench's scenario D: 7.9 s for messages
 * whose own pacing needs 1.3 s). When a job finds its number booked more than
 * `PARK_AFTER_MS` ahead, one script moves every waiting job of that number and lane from the
 * queue's wait list and priority set straight into the delayed set, each with the slot it
 * would have got had it run (kept in its progress, as a job that paced itself keeps it), in
 * the order BullMQ would have taken them. The other numbers' jobs are then next in line, and
 * each parked job runs once, at its slot, instead of twice.
 *
 * The script touches the queue's keys only (one hash tag); the slots it hands out are then
 * booked on the number's pacing key by a second script (`RedisState.push`). Jobs of the
 * number that pace between the two overlap the parked block's first slots: the sliding
 * window (checked right before each call) holds them back, so Meta still never sees more
 * than the number's rate.
 */

// KEYS: wait list, priority set, delayed set, marker. ARGV: job key prefix, the payload's
// `"phoneNumberId":"<id>"`, lane (`marketing` | `other`), first slot (ms), interval (ms),
// how far before its slot a job wakes (ms), now (ms), how many entries of each to scan, the
// phone number id.
// A job's data is the payload as JSON (`JSON.stringify`, no spaces): fixed substrings find
// the number and the lane without decoding it (see `once`).
// Delayed-set scores are BullMQ's: ms * 0x1000 + a sequence, so that jobs due in the same
// millisecond keep their order. Per job, the `delay` field and the progress are set as
// `moveToDelayed` and `updateProgress` would; BullMQ's per-job events are not written (no
// one listens to them, and they would cost an XADD each). Returns the number parked.
const PARK = `
local prefix = ARGV[1]
local needle = ARGV[2]
local marketingLane = ARGV[3] == 'marketing'
local pnid = ARGV[9]
local slot = tonumber(ARGV[4])
local interval = tonumber(ARGV[5])
local early = tonumber(ARGV[6])
local now = tonumber(ARGV[7])
local scan = tonumber(ARGV[8])
local moved = 0
local lastMs, seq = -1, 0

-- Whether the payload has the field at its top level with this value: the substring
-- once (it can only be there, since a string value holds its quotes escaped) is the cheap
-- common case; a second occurrence (a nested object with the same key) takes a decode.
local function once(data, text)
  local at = string.find(data, text, 1, true)
  if not at then return false end
  return not string.find(data, text, at + 1, true)
end

local function matches(id)
  local data = redis.call('HGET', prefix .. id, 'data')
  if not data or not string.find(data, needle, 1, true) then return false end
  if once(data, '"phoneNumberId":"') and once(data, '"category":"') then
    return (string.find(data, '"category":"marketing"', 1, true) ~= nil) == marketingLane
  end
  local ok, p = pcall(cjson.decode, data)
  if not ok or type(p) ~= 'table' or p.phoneNumberId ~= pnid then return false end
  return (p.category == 'marketing') == marketingLane
end

local function park(id)
  local wake = math.floor(slot - early)
  if wake < now then wake = now end
  if wake == lastMs then seq = seq + 1 else lastMs = wake; seq = 0 end
  if seq > 4095 then seq = 4095 end
  redis.call('ZADD', KEYS[3], wake * 4096 + seq, id)
  local progress
  if marketingLane then
    progress = string.format('{"ticket":%.3f,"parked":1}', slot)
  else
    progress = string.format('{"slot":%.3f,"parked":1}', slot)
  end
  redis.call('HSET', prefix .. id, 'delay', wake - now, 'progress', progress)
  slot = slot + interval
  moved = moved + 1
end

-- The wait list first (BullMQ takes it before the priority set), oldest (right end) first.
local ids = redis.call('LRANGE', KEYS[1], -scan, -1)
local keep = {}
local parkedFromWait = false
for i = #ids, 1, -1 do
  if matches(ids[i]) then
    park(ids[i])
    parkedFromWait = true
  else
    keep[i] = true
  end
end
if parkedFromWait then
  -- Rebuild the scanned tail without the parked jobs, in its order (newest left).
  redis.call('LTRIM', KEYS[1], 0, -(#ids + 1))
  local chunk = {}
  for i = 1, #ids do
    if keep[i] then
      chunk[#chunk + 1] = ids[i]
      if #chunk == 1000 then
        redis.call('RPUSH', KEYS[1], unpack(chunk))
        chunk = {}
      end
    end
  end
  if #chunk > 0 then redis.call('RPUSH', KEYS[1], unpack(chunk)) end
end

-- Then the priority set, in the order it is served (lowest score first).
local prioritized = redis.call('ZRANGE', KEYS[2], 0, scan - 1)
local removed = {}
for _, id in ipairs(prioritized) do
  if matches(id) then
    park(id)
    removed[#removed + 1] = id
    if #removed == 1000 then
      redis.call('ZREM', KEYS[2], unpack(removed))
      removed = {}
    end
  end
end
if #removed > 0 then redis.call('ZREM', KEYS[2], unpack(removed)) end

if moved > 0 then
  -- Wake a sleeping worker at the earliest delayed job (BullMQ's addDelayMarkerIfNeeded).
  local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if first[2] then redis.call('ZADD', KEYS[4], math.floor(tonumber(first[2]) / 4096), '1') end
end
return moved
`;

/** A job is parked when its number is booked further ahead than this (ms). */
export const PARK_AFTER_MS = 1_000;
/** At most one park per number and lane per this long, per process (ms): a backlog that keeps
 * arriving is parked in steps of about this much of it. */
const PARK_EVERY_MS = 250;
/** Entries of the wait list and of the priority set looked at per park. */
const PARK_SCAN = 20_000;

/** The BullMQ keys the park script works on (`worker.keys`). */
export interface ParkKeys {
  wait: string;
  prioritized: string;
  delayed: string;
  marker: string;
}

/** Which pacing lane a job is in: marketing has its own (a share of the number). */
export type Lane = 'marketing' | 'other';

export interface ParkRequest {
  phoneNumberId: string;
  lane: Lane;
  /** The first free slot after the job that asked (ms). */
  firstSlot: number;
  intervalMs: number;
  /** Marketing: how long before its ticket a job wakes (the horizon); 0 otherwise. */
  earlyMs: number;
  now: number;
}

type Script = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown>;

/**
 * `park(request)` moves the number's waiting jobs of one lane into the delayed set with
 * consecutive slots from `firstSlot`; returns how many, or 0 when this process parked that
 * number's lane less than a second ago. `keys()` is read at the first park (the worker
 * exists by then).
 */
export function createParking(redis: Redis, keys: () => ParkKeys & { jobPrefix: string }) {
  const command = 'wapiSenderPARK';
  const commands = redis as unknown as Record<string, Script>;
  if (typeof commands[command] !== 'function') redis.defineCommand(command, { lua: PARK });
  const last = new Map<string, number>();
  return {
    async park(r: ParkRequest): Promise<number> {
      const id = `${r.phoneNumberId}:${r.lane}`;
      if ((last.get(id) ?? 0) > r.now - PARK_EVERY_MS) return 0;
      last.set(id, r.now);
      const k = keys();
      return Number(
        await (commands[command] as Script).call(
          redis,
          4,
          k.wait,
          k.prioritized,
          k.delayed,
          k.marker,
          k.jobPrefix,
          `"phoneNumberId":${JSON.stringify(r.phoneNumberId)}`,
          r.lane,
          r.firstSlot.toFixed(3),
          r.intervalMs,
          r.earlyMs,
          Math.floor(r.now),
          PARK_SCAN,
          r.phoneNumberId,
        ),
      );
    },
  };
}
export type Parking = ReturnType<typeof createParking>;
