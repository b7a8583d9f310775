import { keyOf } from '@wapi/contracts';
import type { WorkspaceId } from '@wapi/store';
import type { Redis } from 'ioredis';
import {
  type MessageDoc,
  type MessagingRepositories,
  RANKED,
  STATUS_RANK,
  type StatusDoc,
  type StoredStatus,
  withoutWorkspace,
} from './repositories';

/**
 * The applied state of one outbound message: the highest status rank, the earliest report of
 * each status, and what events carry (wamid, failure, pricing). Merged onto the message
 * document when it is read (see mergeState).
 */
export interface MessageState {
  rank: number;
  firstAt: Partial<Record<StoredStatus, Date>>;
  wamid: string | null;
  error: MessageDoc['error'];
  pricing: MessageDoc['pricing'] | null;
}

/** One status report to apply: what one `message.events.v1` event says about its message. */
export interface StatusReport {
  messageId: string;
  status: StoredStatus;
  /** Epoch ms of the report. */
  at: number;
  wamid?: string | undefined;
  error?: NonNullable<MessageDoc['error']> | undefined;
  pricing?: MessageDoc['pricing'] | undefined;
}

/**
 * How long a message's state stays in Redis after its last write. A read of a message older
 * than this (minus a margin) rebuilds its state from the durable record once.
 */
export const STATE_TTL_MS = 7 * 24 * 3_600_000;
/**
 * Clock skew allowed between the instance stamping `createdAt` and the one stamping the
 * epoch: a message created less than this after the epoch is rebuilt rather than trusted.
 * Small, because every message created within it costs a rebuild (a scan on FerretDB) on its
 * first read: with 30 s, the 5,000 messages of the end-to-end run, accepted right after
 * start-up, took minutes of rebuilds to read.
 */
const EPOCH_MARGIN_MS = 5_000;

// Every key of the state is in one family (one Cluster slot), so one script writes a batch.
const stateKey = (prefix: string, ws: string, messageId: string) =>
  keyOf(prefix, 'gw-msg-state', ws, 'm', messageId);
const wamidKey = (prefix: string, ws: string, wamid: string) => keyOf(prefix, 'gw-msg-state', ws, 'w', wamid);
/** When this Redis started holding message state (set once; gone after a flush). */
const epochKey = (prefix: string) => keyOf(prefix, 'gw-msg-state', 'epoch');

/**
 * Merges reports into the state hashes. Every write is commutative and idempotent: the rank
 * is a max, each status's time a min, and wamid, error and pricing are the same in every
 * event naming them (first one kept). `b` marks a hash rebuilt from the durable record.
 * KEYS: epoch, then one key per op. ARGV: ttl ms, now ms, ops as JSON.
 */
const APPLY_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[2], 'NX')
local ttl = ARGV[1]
local ops = cjson.decode(ARGV[3])
for i, op in ipairs(ops) do
  local key = KEYS[i + 1]
  if op.m then
    redis.call('SET', key, op.m, 'PX', ttl)
  else
    local r = tonumber(redis.call('HGET', key, 'r') or '-1')
    if op.r > r then redis.call('HSET', key, 'r', op.r) end
    if op.s then
      local f = 't.' .. op.s
      local cur = redis.call('HGET', key, f)
      if (not cur) or tonumber(cur) > tonumber(op.t) then redis.call('HSET', key, f, op.t) end
    end
    if op.w then redis.call('HSETNX', key, 'w', op.w) end
    if op.e then redis.call('HSETNX', key, 'e', op.e) end
    if op.p then redis.call('HSETNX', key, 'p', op.p) end
    if op.b then redis.call('HSET', key, 'b', '1') end
    redis.call('PEXPIRE', key, ttl)
  end
end
return #ops
`;

type Op = { r: number; s?: string; t?: string; w?: string; e?: string; p?: string; b?: 1 } | { m: string };

const foldReports = (reports: StatusReport[]): Map<string, MessageState> => {
  const states = new Map<string, MessageState>();
  for (const r of reports) {
    let s = states.get(r.messageId);
    if (!s) {
      s = { rank: 0, firstAt: {}, wamid: null, error: null, pricing: null };
      states.set(r.messageId, s);
    }
    s.rank = Math.max(s.rank, STATUS_RANK[r.status]);
    const seen = s.firstAt[r.status];
    if (!seen || r.at < seen.getTime()) s.firstAt[r.status] = new Date(r.at);
    s.wamid ??= r.wamid ?? null;
    s.error ??= r.error ?? null;
    s.pricing ??= r.pricing ?? null;
  }
  return states;
};

const opsOf = (state: MessageState, base: boolean): Op[] => {
  const common = {
    ...(state.wamid ? { w: state.wamid } : {}),
    ...(state.error ? { e: JSON.stringify(state.error) } : {}),
    ...(state.pricing ? { p: JSON.stringify(state.pricing) } : {}),
    ...(base ? { b: 1 as const } : {}),
  };
  const times = Object.entries(state.firstAt) as [StoredStatus, Date][];
  if (times.length === 0) return [{ r: state.rank, ...common }];
  return times.map(([s, at], i) => ({
    r: state.rank,
    s,
    t: String(at.getTime()),
    ...(i === 0 ? common : {}),
  }));
};

const parseState = (hash: Record<string, string>): MessageState => {
  const firstAt: MessageState['firstAt'] = {};
  for (const [field, value] of Object.entries(hash))
    if (field.startsWith('t.')) firstAt[field.slice(2) as StoredStatus] = new Date(Number(value));
  return {
    rank: Number(hash.r ?? 0),
    firstAt,
    wamid: hash.w ?? null,
    error: hash.e ? (JSON.parse(hash.e) as MessageState['error']) : null,
    pricing: hash.p ? (JSON.parse(hash.p) as MessageState['pricing']) : null,
  };
};

/**
 * The applied state of messages: in Redis (one hash per message, written by one script per
 * batch) and, durably, as append-only status documents (`message_statuses`, `_id` =
 * `<messageId>:<status>:<ms>`, inserted with duplicates ignored), from which a state Redis
 * no longer holds is rebuilt when read. No update of the store is on the event path: on
 * FerretDB every update is a collection scan, while a batched insert is cheap.
 */
export function messageStateStore(deps: { redis: Redis; prefix: string; repos: MessagingRepositories }) {
  const { redis, prefix, repos } = deps;

  async function writeRedis(entries: { key: string; op: Op }[]): Promise<void> {
    // Bounded script size: a few thousand ops per call.
    for (let i = 0; i < entries.length; i += 2_000) {
      const slice = entries.slice(i, i + 2_000);
      await redis.eval(
        APPLY_SCRIPT,
        slice.length + 1,
        epochKey(prefix),
        ...slice.map((e) => e.key),
        String(STATE_TTL_MS),
        String(Date.now()),
        JSON.stringify(slice.map((e) => e.op)),
      );
    }
  }

  return {
    /**
     * Marks when this Redis began holding message state, if nothing did yet (a no-op
     * otherwise). Called at start-up so messages created from then on read from Redis alone;
     * every write sets it too, so after a flush it is set again by the next write.
     */
    async ensureEpoch(): Promise<void> {
      await redis.set(epochKey(prefix), String(Date.now()), 'NX');
    },

    /**
     * Records reports durably (one insertMany, duplicates ignored; reports Redis already
     * covers are skipped) and then merges them into Redis, with the wamid -> message id pairs
     * they name (also stored in `message_wamids`). A failure leaves nothing inconsistent: the
     * job is retried and every write is idempotent.
     */
    async apply(ws: WorkspaceId, reports: StatusReport[]): Promise<void> {
      if (reports.length === 0) return;
      const folded = foldReports(reports);
      const pairs = new Map<string, string>();
      for (const r of reports) if (r.wamid) pairs.set(r.wamid, r.messageId);
      // What Redis holds was recorded durably first (applied after its insert, or rebuilt
      // from the record), so a report it already covers needs no document: duplicates and
      // repeated wamid pairs cost one Redis read instead of store writes.
      const pipeline = redis.pipeline();
      for (const id of folded.keys()) pipeline.hgetall(stateKey(prefix, ws, id));
      for (const wamid of pairs.keys()) pipeline.exists(wamidKey(prefix, ws, wamid));
      const answers = (await pipeline.exec()) ?? [];
      const held = new Map<string, Record<string, string>>();
      let i = 0;
      for (const id of folded.keys()) {
        const [error, value] = answers[i++] ?? [];
        if (error) throw error;
        held.set(id, (value ?? {}) as Record<string, string>);
      }
      const knownWamids = new Set<string>();
      for (const wamid of pairs.keys()) {
        const [error, value] = answers[i++] ?? [];
        if (error) throw error;
        if (value === 1) knownWamids.add(wamid);
      }
      const covered = (r: StatusReport) => {
        const hash = held.get(r.messageId) ?? {};
        const t = hash[`t.${r.status}`];
        return (
          t !== undefined &&
          Number(t) <= r.at &&
          (!r.wamid || hash.w !== undefined) &&
          (!r.error || hash.e !== undefined) &&
          (!r.pricing || hash.p !== undefined)
        );
      };
      const docs = new Map<string, StatusDoc>();
      for (const r of reports) {
        if (covered(r)) continue;
        const _id = `${r.messageId}:${r.status}:${r.at}`;
        docs.set(_id, {
          _id,
          workspaceId: ws,
          messageId: r.messageId,
          status: r.status,
          at: new Date(r.at),
          ...(r.wamid ? { wamid: r.wamid } : {}),
          ...(r.error ? { error: r.error } : {}),
          ...(r.pricing ? { pricing: r.pricing } : {}),
        });
      }
      const newPairs = [...pairs].filter(([wamid]) => !knownWamids.has(wamid));
      await Promise.all([
        docs.size > 0
          ? repos.statuses.insertMany(ws, [...docs.values()].map(withoutWorkspace), {
              ignoreDuplicates: true,
            })
          : undefined,
        newPairs.length > 0
          ? repos.wamids.insertMany(
              ws,
              newPairs.map(([wamid, messageId]) => ({ _id: wamid, messageId })),
              { ignoreDuplicates: true },
            )
          : undefined,
      ]);
      const entries: { key: string; op: Op }[] = [];
      for (const [id, state] of folded)
        for (const op of opsOf(state, false)) entries.push({ key: stateKey(prefix, ws, id), op });
      for (const [wamid, id] of pairs) entries.push({ key: wamidKey(prefix, ws, wamid), op: { m: id } });
      await writeRedis(entries);
    },

    /** The message ids of `wamids` (outbound messages only): Redis first, then `message_wamids` by `_id`. */
    async resolveWamids(ws: WorkspaceId, wamids: string[]): Promise<Map<string, string>> {
      const ids = new Map<string, string>();
      if (wamids.length === 0) return ids;
      const cached = await redis.mget(wamids.map((w) => wamidKey(prefix, ws, w)));
      const missing: string[] = [];
      wamids.forEach((w, i) => {
        const id = cached[i];
        if (id) ids.set(w, id);
        else missing.push(w);
      });
      if (missing.length > 0) {
        const found = await repos.wamids.find(ws, { _id: { $in: missing } });
        for (const m of found) ids.set(m._id, m.messageId);
        if (found.length > 0)
          await writeRedis(found.map((m) => ({ key: wamidKey(prefix, ws, m._id), op: { m: m.messageId } })));
      }
      return ids;
    },

    /**
     * The state of each outbound message of `docs`. Redis answers when its hash is complete:
     * rebuilt from the durable record (`b`), or the message was created after this Redis
     * began holding state (the epoch) and recently enough that its hash cannot have expired.
     * Every other message is rebuilt from `message_statuses` (one find) and written back.
     */
    async states(ws: WorkspaceId, docs: MessageDoc[], now: Date): Promise<Map<string, MessageState>> {
      const out = new Map<string, MessageState>();
      const outbound = docs.filter((d) => d.direction === 'outbound');
      if (outbound.length === 0) return out;
      const pipeline = redis.pipeline();
      pipeline.get(epochKey(prefix));
      for (const d of outbound) pipeline.hgetall(stateKey(prefix, ws, d._id));
      const answers = (await pipeline.exec()) ?? [];
      const [epochError, epochValue] = answers[0] ?? [];
      if (epochError) throw epochError;
      const epoch = epochValue ? Number(epochValue) : Number.POSITIVE_INFINITY;
      const rebuild: MessageDoc[] = [];
      outbound.forEach((d, i) => {
        const [error, value] = answers[i + 1] ?? [];
        if (error) throw error;
        const hash = (value ?? {}) as Record<string, string>;
        const created = d.createdAt.getTime();
        const complete =
          hash.b === '1' ||
          (created > epoch + EPOCH_MARGIN_MS && now.getTime() - created < STATE_TTL_MS - EPOCH_MARGIN_MS);
        if (complete) out.set(d._id, parseState(hash));
        else rebuild.push(d);
      });
      if (rebuild.length > 0) {
        const statuses = await repos.statuses.find(ws, { messageId: { $in: rebuild.map((d) => d._id) } });
        const folded = foldReports(
          statuses.map((s) => ({
            messageId: s.messageId,
            status: s.status,
            at: s.at.getTime(),
            wamid: s.wamid,
            error: s.error,
            pricing: s.pricing,
          })),
        );
        const entries: { key: string; op: Op }[] = [];
        for (const d of rebuild) {
          const state = folded.get(d._id) ?? {
            rank: 0,
            firstAt: {},
            wamid: null,
            error: null,
            pricing: null,
          };
          out.set(d._id, state);
          for (const op of opsOf(state, true)) entries.push({ key: stateKey(prefix, ws, d._id), op });
        }
        // Written back merged (max/min), so an event applied meanwhile is not lost.
        await writeRedis(entries);
      }
      return out;
    },
  };
}
export type MessageStateStore = ReturnType<typeof messageStateStore>;

/** A message document with its applied state: the view every read serves. */
export function mergeState(doc: MessageDoc, state: MessageState | undefined): MessageDoc {
  if (!state) return doc;
  const history = [...doc.history];
  for (const [status, at] of Object.entries(state.firstAt)) history.push({ status, at });
  const rank = Math.max(doc.statusRank, state.rank);
  const pricing = doc.pricing ?? state.pricing;
  return {
    ...doc,
    statusRank: rank,
    status: doc.direction === 'inbound' ? doc.status : (RANKED[rank] ?? doc.status),
    history,
    wamid: doc.wamid ?? state.wamid,
    error: doc.error ?? state.error,
    ...(pricing ? { pricing } : {}),
  };
}
