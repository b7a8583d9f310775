import { AppError, keyOf, type MessageCategory, type SendContent } from '@wapi/contracts';
import { type IndexSpec, tenantRepository, type WorkspaceId } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import {
  assertParameters,
  categoryOf,
  expectationsOf,
  type StoredComponent,
  type TemplateExpectations,
} from './definition';

/**
 * A message template as Meta holds it, one document per (workspace, name, language): the
 * natural key is the `_id`, so every write and the send-time lookup go by `_id` (FerretDB
 * scans otherwise) and a repeated create or sync cannot duplicate it.
 */
export interface TemplateDoc {
  _id: string;
  workspaceId: string;
  name: string;
  language: string;
  /** Meta's category (`MARKETING`, `UTILITY`, `AUTHENTICATION`). */
  metaCategory: string;
  category: MessageCategory;
  /** Meta's status: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ... */
  status: string;
  /** GREEN, YELLOW, RED, UNKNOWN; null until Meta rates it. */
  quality: string | null;
  reason: string | null;
  metaId: string | null;
  wabaId: string;
  parameterFormat: 'positional' | 'named';
  /**
   * The components as Meta describes them, as JSON text: Meta's examples nest arrays
   * (`body_text: [[…]]`), which FerretDB cannot store, and nothing queries inside them.
   */
  componentsJson: string;
  expectations: TemplateExpectations;
  /** When the status last changed (Meta's time): an older webhook never overwrites a newer state. */
  statusAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export const templateIdOf = (ws: string, name: string, language: string) => `${ws}:${name}:${language}`;

export const templateIndexes: IndexSpec[] = [
  {
    collection: 'templates',
    name: 'workspace_name',
    key: { workspaceId: 1, name: 1 },
    serves: 'templates.find(ws, { name }) listing and deleting every language of a name',
  },
];

/** What a send needs of a template, as cached in Redis. */
interface CachedTemplate {
  status: string;
  category: MessageCategory;
  expectations: TemplateExpectations;
}

const COMPLETE = '__complete';
/** Bounds how long a stale entry (a lost race with a delete) can live. */
const CACHE_TTL_S = 600;

/**
 * The templates of every workspace: the collection (the truth) and a Redis hash per
 * workspace holding what a send checks, so the send path reads one hash field instead of the
 * database. The hash is filled whole on the first miss and marked complete; a field absent
 * from a complete hash is an unknown template. Writers update the database, then the field.
 */
export function templateStore(db: Db, redis: Redis, prefix: string) {
  const templates = tenantRepository<TemplateDoc>(db, 'templates');
  const cacheKey = (ws: string) => keyOf(prefix, 'gw-templates', ws);
  const field = (name: string, language: string) => `${name}:${language}`;
  const cached = (t: TemplateDoc): string =>
    JSON.stringify({
      status: t.status,
      category: t.category,
      expectations: t.expectations,
    } satisfies CachedTemplate);

  async function cache(docs: TemplateDoc[]): Promise<void> {
    if (docs.length === 0) return;
    const pipeline = redis.pipeline();
    for (const t of docs) pipeline.hset(cacheKey(t.workspaceId), field(t.name, t.language), cached(t));
    await pipeline.exec();
  }

  /** Fills the workspace's hash from the database (never overwriting a writer's newer field). */
  async function load(ws: WorkspaceId): Promise<void> {
    const docs = await templates.find(ws, {}, { limit: 5_000 });
    const pipeline = redis.pipeline();
    for (const t of docs) pipeline.hsetnx(cacheKey(ws), field(t.name, t.language), cached(t));
    pipeline.hset(cacheKey(ws), COMPLETE, '1');
    pipeline.expire(cacheKey(ws), CACHE_TTL_S);
    await pipeline.exec();
  }

  async function lookup(ws: WorkspaceId, name: string, language: string): Promise<CachedTemplate | null> {
    let [value, complete] = await redis.hmget(cacheKey(ws), field(name, language), COMPLETE);
    if (value == null && complete == null) {
      await load(ws);
      [value] = await redis.hmget(cacheKey(ws), field(name, language));
    }
    return value ? (JSON.parse(value) as CachedTemplate) : null;
  }

  return {
    repo: templates,

    /** Stores (inserts or replaces) templates as Meta describes them, and refreshes the cache. */
    async upsert(ws: WorkspaceId, docs: TemplateDoc[]): Promise<void> {
      if (docs.length === 0) return;
      await templates.bulkWrite(
        ws,
        docs.map((d) => {
          const { _id, workspaceId: _, createdAt, ...rest } = d;
          return {
            updateOne: {
              filter: { _id },
              update: { $set: rest, $setOnInsert: { createdAt } },
              upsert: true,
            },
          };
        }),
        { ordered: false },
      );
      await cache(docs);
    },

    /** Removes templates (by `_id`) from the store and the cache. */
    async remove(ws: WorkspaceId, docs: Pick<TemplateDoc, '_id' | 'name' | 'language'>[]): Promise<void> {
      if (docs.length === 0) return;
      await templates.deleteMany(ws, { _id: { $in: docs.map((d) => d._id) } });
      await redis.hdel(cacheKey(ws), ...docs.map((d) => field(d.name, d.language)));
    },

    /**
     * Applies a status or quality change from a webhook, unless a newer one was applied
     * already. Answers false for a template the store does not have (the periodic sync
     * brings templates made in Meta's own tools).
     */
    async applyChange(
      ws: WorkspaceId,
      ref: { name: string; language: string },
      change: { status?: string; quality?: string; reason?: string | null; category?: string },
      at: Date,
    ): Promise<boolean> {
      const _id = templateIdOf(ws, ref.name, ref.language);
      const set: Partial<Omit<TemplateDoc, '_id' | 'workspaceId'>> = { updatedAt: new Date() };
      if (change.quality !== undefined) set.quality = change.quality;
      if (change.status !== undefined) {
        set.status = change.status;
        set.statusAt = at;
        set.reason = change.reason ?? null;
      }
      if (change.category) {
        set.metaCategory = change.category.toUpperCase();
        set.category = categoryOf(change.category);
      }
      const filter = change.status !== undefined ? { _id, statusAt: { $lte: at } } : { _id };
      const doc = await templates.findOneAndUpdate(ws, filter, { $set: set }, { returnDocument: 'after' });
      if (!doc) return (await templates.findOne(ws, { _id })) !== null;
      await cache([doc]);
      return true;
    },

    /**
     * Checks a template send against the stored definition and answers its category (the
     * stored one decides, so a marketing-only opt-out blocks exactly the marketing templates).
     */
    async checkSend(
      ws: WorkspaceId,
      template: Extract<SendContent, { type: 'template' }>['template'],
    ): Promise<MessageCategory> {
      const found = await lookup(ws, template.name, template.language);
      if (!found) {
        const languages = (await redis.hkeys(cacheKey(ws)))
          .filter((f) => f.startsWith(`${template.name}:`))
          .map((f) => f.slice(template.name.length + 1));
        if (languages.length > 0) {
          throw new AppError(
            'TEMPLATE_LANGUAGE_UNAVAILABLE',
            `The template ${template.name} has no ${template.language} version; it has ${languages.sort().join(', ')}.`,
          );
        }
        throw new AppError(
          'TEMPLATE_NOT_FOUND',
          `No template ${template.name} in this workspace; create it (POST /api/v1/templates) or sync those made in Meta's tools (POST /api/v1/templates/sync).`,
        );
      }
      if (found.status === 'PAUSED') throw new AppError('TEMPLATE_PAUSED');
      if (found.status === 'DISABLED') throw new AppError('TEMPLATE_DISABLED');
      if (found.status !== 'APPROVED') {
        throw new AppError(
          'TEMPLATE_NOT_APPROVED',
          `The template ${template.name} (${template.language}) is ${found.status}; only APPROVED templates can be sent.`,
        );
      }
      assertParameters(found.expectations, template);
      return found.category;
    },
  };
}
export type TemplateStore = ReturnType<typeof templateStore>;

/** A stored template from Meta's description of it (a create answer or a listed template). */
export function templateDoc(
  ws: string,
  wabaId: string,
  t: {
    id?: string | undefined;
    name: string;
    language: string;
    category: string;
    status: string;
    parameter_format?: string | undefined;
    components: StoredComponent[];
    quality_score?: { score?: string } | undefined;
    rejected_reason?: string | undefined;
  },
  now: Date,
): TemplateDoc {
  const expectations = expectationsOf(t.components, t.parameter_format);
  return {
    _id: templateIdOf(ws, t.name, t.language),
    workspaceId: ws,
    name: t.name,
    language: t.language,
    metaCategory: t.category.toUpperCase(),
    category: categoryOf(t.category),
    status: t.status.toUpperCase(),
    quality: t.quality_score?.score ?? null,
    reason: t.rejected_reason && t.rejected_reason !== 'NONE' ? t.rejected_reason : null,
    metaId: t.id ?? null,
    wabaId,
    parameterFormat: expectations.format,
    componentsJson: JSON.stringify(t.components),
    expectations,
    statusAt: now,
    createdAt: now,
    updatedAt: now,
  };
}
