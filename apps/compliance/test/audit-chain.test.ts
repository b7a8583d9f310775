import type { AuditV1 } from '@wapi/contracts';
import { createProducer, jobIdOf } from '@wapi/service-kit';
import { asWorkspaceId, migrate } from '@wapi/store';
import { useTestContext, waitFor } from '@wapi/testkit';
import type { Document } from 'mongodb';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AuditInput, createAuditLog } from '../src/data/audit-log';
import { INDEXES } from '../src/data/indexes';
import { hashEntry } from '../src/domain/audit-chain';
import { startRetentionSweeper } from '../src/workers/retention';
import { startCompliance } from './helpers';

const ctx = useTestContext('audit');
const log = pino({ level: 'silent' });

beforeAll(async () => {
  await migrate(ctx.db, INDEXES);
});

let eventSeq = 0;
function event(ws: string, action = 'template.created'): AuditInput {
  eventSeq += 1;
  return {
    workspaceId: ws,
    eventId: `evt_${eventSeq}`,
    actor: { type: 'user', id: 'usr_1' },
    action,
    target: { type: 'template', id: `tpl_${eventSeq}` },
    at: new Date(Date.UTC(2026, 10, 1, 0, 0, eventSeq % 60)).toISOString(),
    requestId: `req_${eventSeq}`,
    ip: '203.0.113.7',
    userAgent: 'wapi-test',
    outcome: 'success',
    before: { status: 'draft' },
    after: { status: 'approved', version: eventSeq },
  };
}

async function appendMany(
  ws: string,
  n: number,
  audit = createAuditLog({ db: ctx.db, log, retentionDays: 90 }),
) {
  return Promise.all(Array.from({ length: n }, () => audit.append(event(ws))));
}

const entriesOf = (ws: string) =>
  ctx.db.collection('audit_entries').find({ workspaceId: ws }).sort({ seq: 1 }).toArray();

/** Replaces a workspace's stored chain with `rewrite(entries)` (what an attacker with DB access can do). */
async function tamper(ws: string, rewrite: (docs: Document[]) => Document[]): Promise<void> {
  const docs = await entriesOf(ws);
  const changed = rewrite(docs.map((d) => structuredClone(d)));
  await ctx.db.collection('audit_entries').deleteMany({ workspaceId: ws });
  if (changed.length > 0) await ctx.db.collection('audit_entries').insertMany(changed);
}

const verify = (ws: string) =>
  createAuditLog({ db: ctx.db, log, retentionDays: 90 }).verify(asWorkspaceId(ws));

/** The hash a forger would compute for a document (the chain has no secret). */
function rehash(doc: Document): string {
  return hashEntry({ ...(doc as object), at: (doc.at as Date).toISOString() } as never);
}

describe('the hash chain detects tampering at the right position', () => {
  it('verifies an untouched chain', async () => {
    await appendMany('ws_clean', 10);
    expect(await verify('ws_clean')).toEqual({
      valid: true,
      checked: 10,
      firstSeq: 1,
      lastSeq: 10,
      broken: null,
    });
  });

  it('detects an edited entry', async () => {
    await appendMany('ws_edit', 10);
    await tamper('ws_edit', (docs) => {
      docs[4]!.action = 'template.deleted';
      return docs;
    });
    expect((await verify('ws_edit')).broken).toEqual({ seq: 5, reason: 'hash_mismatch' });
  });

  it('detects an edited entry whose hash was recomputed, at the next entry', async () => {
    await appendMany('ws_edit2', 10);
    await tamper('ws_edit2', (docs) => {
      docs[4]!.outcome = 'denied';
      docs[4]!.hash = rehash(docs[4]!);
      return docs;
    });
    expect((await verify('ws_edit2')).broken).toEqual({ seq: 6, reason: 'prev_hash_mismatch' });
  });

  it('detects a deleted entry', async () => {
    await appendMany('ws_delete', 10);
    await tamper('ws_delete', (docs) => docs.filter((d) => d.seq !== 5));
    expect((await verify('ws_delete')).broken).toEqual({ seq: 5, reason: 'missing' });
  });

  it('detects an inserted entry', async () => {
    await appendMany('ws_insert', 10);
    await tamper('ws_insert', (docs) => {
      // Renumber 5.. to make room, then put a forged entry at 5 (hash not forgeable to match its neighbours).
      const shifted = docs.map((d) =>
        d.seq >= 5 ? { ...d, seq: d.seq + 1, _id: `ws_insert:${d.seq + 1}` } : d,
      );
      const forged = {
        ...docs[4]!,
        _id: 'ws_insert:5',
        action: 'user.invited',
        target: { type: 'user', id: 'evil' },
      };
      return [...shifted, forged];
    });
    expect((await verify('ws_insert')).broken).toEqual({ seq: 5, reason: 'hash_mismatch' });
  });

  it('detects reordered entries', async () => {
    await appendMany('ws_reorder', 10);
    await tamper('ws_reorder', (docs) => {
      const [a, b] = [docs[3]!, docs[4]!];
      // Swap their contents but keep each position's sequence number and key.
      return docs.map((d) =>
        d === a ? { ...b, _id: a._id, seq: a.seq } : d === b ? { ...a, _id: b._id, seq: b.seq } : d,
      );
    });
    expect((await verify('ws_reorder')).broken).toEqual({ seq: 4, reason: 'prev_hash_mismatch' });
  });

  it('reports the first break when there are several', async () => {
    await appendMany('ws_many', 10);
    await tamper('ws_many', (docs) => {
      docs[2]!.actor = { type: 'user', id: 'someone_else' };
      return docs.filter((d) => d.seq !== 8);
    });
    expect(await verify('ws_many')).toMatchObject({
      valid: false,
      broken: { seq: 3, reason: 'hash_mismatch' },
    });
  });
});

describe('concurrent writers', () => {
  it('two audit logs (two instances) appending to one workspace at once leave one valid chain', async () => {
    const a = createAuditLog({ db: ctx.db, log, retentionDays: 90 });
    const b = createAuditLog({ db: ctx.db, log, retentionDays: 90 });
    const seqs = (await Promise.all([appendMany('ws_race', 150, a), appendMany('ws_race', 150, b)])).flat();
    // Every append got its own sequence number, 1..300, and the chain links them all.
    expect(new Set(seqs).size).toBe(300);
    expect(Math.max(...seqs)).toBe(300);
    expect(await verify('ws_race')).toEqual({
      valid: true,
      checked: 300,
      firstSeq: 1,
      lastSeq: 300,
      broken: null,
    });
  });

  it('two compliance instances consuming audit.v1 at once leave a valid chain with every event once', async () => {
    const day = 86_400_000;
    // Instance B's clock runs a year ahead, so `recordedAt` tells which instance wrote an entry.
    const first = await startCompliance(ctx);
    const second = await startCompliance(ctx, { now: () => new Date(Date.now() + 365 * day) });
    const producer = createProducer('audit.v1', { connection: ctx.redis, prefix: ctx.prefix, log });
    try {
      const events: AuditV1[] = Array.from({ length: 400 }, (_, i) => {
        const { eventId: _e, ...payload } = event('ws_two');
        return { ...payload, action: `action.${i}` };
      });
      await producer.queue.addBulk(
        events.map((data, i) => ({ name: 'audit.v1', data, opts: { jobId: jobIdOf('test', 'two', i) } })),
      );
      await waitFor(
        async () =>
          (await ctx.db.collection('audit_entries').countDocuments({ workspaceId: 'ws_two' })) >= 400,
        {
          what: '400 audit entries',
          timeoutMs: 60_000,
          intervalMs: 200,
        },
      );
      const docs = await entriesOf('ws_two');
      expect(docs).toHaveLength(400);
      expect(new Set(docs.map((d) => d.action)).size).toBe(400);
      const later = docs.filter((d) => (d.recordedAt as Date).getTime() > Date.now() + 100 * day).length;
      expect(later, 'entries written by each instance').toBeGreaterThan(0);
      expect(later).toBeLessThan(400);
      const res = await first.call('POST', '/internal/v1/audit/ws_two/verify');
      expect(res.json()).toEqual({ valid: true, checked: 400, firstSeq: 1, lastSeq: 400, broken: null });
    } finally {
      await producer.close();
      await first.close();
      await second.close();
    }
  });

  it('keeps a chain longer than a read page whole: verify, head lookup and tampering across pages', async () => {
    const ws = 'ws_long';
    const a = createAuditLog({ db: ctx.db, log, retentionDays: 90 });
    const b = createAuditLog({ db: ctx.db, log, retentionDays: 90 });
    await Promise.all([appendMany(ws, 1_300, a), appendMany(ws, 1_300, b)]);
    // A third instance finds the head (seq 2600, on page 2) from the stored hint.
    expect(await createAuditLog({ db: ctx.db, log, retentionDays: 90 }).append(event(ws))).toBe(2_601);
    expect(await verify(ws)).toEqual({
      valid: true,
      checked: 2_601,
      firstSeq: 1,
      lastSeq: 2_601,
      broken: null,
    });
    // A whole page removed from the middle is found, not taken for the end of the chain.
    await tamper(ws, (docs) => docs.filter((d) => d.page !== 1));
    expect((await verify(ws)).broken).toEqual({ seq: 1_000, reason: 'missing' });
  });

  it('does not append a retried event twice', async () => {
    const audit = createAuditLog({ db: ctx.db, log, retentionDays: 90 });
    const ws = asWorkspaceId('ws_retry');
    const e = event(ws);
    const seq = await audit.append(e);
    expect(await audit.append(e, { maybeDuplicate: true })).toBe(seq);
    expect(await ctx.db.collection('audit_entries').countDocuments({ workspaceId: ws })).toBe(1);
  });
});

describe('retention', () => {
  const day = 86_400_000;
  let clock = Date.UTC(2026, 0, 1);
  const now = () => new Date(clock);

  it('purges entries past retention and the rest still verifies from the anchor', async () => {
    const audit = createAuditLog({ db: ctx.db, log, retentionDays: 90, now });
    const ws = asWorkspaceId('ws_purge');
    await appendMany(ws, 10, audit);
    clock += 91 * day;
    await appendMany(ws, 5, audit);
    const purged = await audit.purge(ws);
    expect(purged.deleted).toBe(10);
    expect(purged.anchor?.firstSeq).toBe(11);
    expect(await verify(ws)).toEqual({ valid: true, checked: 5, firstSeq: 11, lastSeq: 15, broken: null });
    // New entries continue the chain after the purge.
    await appendMany(ws, 2, createAuditLog({ db: ctx.db, log, retentionDays: 90, now }));
    expect(await verify(ws)).toMatchObject({ valid: true, checked: 7, lastSeq: 17 });
    // Tampering after a purge is still found.
    await tamper(ws, (docs) => docs.filter((d) => d.seq !== 12));
    expect((await verify(ws)).broken).toEqual({ seq: 12, reason: 'missing' });
  });

  it('keeps everything within a workspace’s own longer retention', async () => {
    const audit = createAuditLog({ db: ctx.db, log, retentionDays: 90, now });
    const ws = asWorkspaceId('ws_keep');
    await audit.setRetention(ws, 365);
    await appendMany(ws, 5, audit);
    clock += 100 * day;
    expect((await audit.purge(ws)).deleted).toBe(0);
    expect(await verify(ws)).toMatchObject({ valid: true, checked: 5 });
  });

  it('the sweeper purges every workspace past retention and records each purge in the chain', async () => {
    const audit = createAuditLog({ db: ctx.db, log, retentionDays: 90, now });
    const [a, b] = [asWorkspaceId('ws_sweep_a'), asWorkspaceId('ws_sweep_b')];
    await appendMany(a, 3, audit);
    await appendMany(b, 4, audit);
    clock += 120 * day;
    const sweeper = startRetentionSweeper({ audit, intervalMs: 3_600_000, log });
    try {
      expect(await sweeper.sweepOnce()).toBeGreaterThanOrEqual(7);
    } finally {
      await sweeper.stop();
    }
    for (const [ws, purged] of [
      [a, 3],
      [b, 4],
    ] as const) {
      const docs = await entriesOf(ws);
      expect(docs.map((d) => [d.seq, d.action])).toEqual([[purged + 1, 'audit.purged']]);
      expect(docs[0]?.data).toMatchObject({ firstSeq: purged + 1, deleted: purged });
      expect(await verify(ws)).toMatchObject({ valid: true, checked: 1, firstSeq: purged + 1 });
    }
  });

  it('verifies when a purge stopped between the anchor and the delete', async () => {
    const audit = createAuditLog({ db: ctx.db, log, retentionDays: 90, now });
    const ws = asWorkspaceId('ws_halfway');
    await appendMany(ws, 6, audit);
    const docs = await entriesOf(ws);
    // The anchor a purge of 1..3 writes first, without the deletes that follow it.
    await ctx.db.collection('audit_anchors').insertOne({
      _id: ws as never,
      workspaceId: ws,
      firstSeq: 4,
      prevHash: docs[2]!.hash,
      purgedAt: new Date(),
    });
    expect(await verify(ws)).toEqual({ valid: true, checked: 3, firstSeq: 4, lastSeq: 6, broken: null });
  });
});
