import type { VaultPurpose } from '@wapi/contracts';
import {
  type GlobalRepository,
  globalRepository,
  type IndexSpec,
  type TenantDocument,
  type TenantRepository,
  tenantRepository,
  type WorkspaceId,
} from '@wapi/store';
import type { Db } from 'mongodb';

/**
 * One immutable version of a secret. Writes only ever insert (cheap on FerretDB, where an
 * update is a collection scan): a put, rotation or deletion inserts the next revision and
 * then deletes the older ones; a rewrap inserts the same revision under a newer KEK and
 * then deletes the old copy. The newest (revision, kekVersion) is the secret's state.
 *
 * `_id` is natural (`ws:purpose:record:r<revision>:k<kek>`), so two writers racing for the
 * same revision collide on it and a re-run of an interrupted rewrap is a duplicate no-op.
 */
export interface SecretDoc extends TenantDocument {
  _id: string;
  purpose: VaultPurpose;
  recordId: string;
  revision: number;
  /** Absent on a deletion marker. */
  kekVersion?: number;
  /** The envelope (`vault:v<k>:…`); absent on a deletion marker. Never plaintext. */
  sealed?: string;
  deleted?: boolean;
  createdAt: Date;
}

export const SECRETS = 'secrets';

export const secretIndexes: IndexSpec[] = [
  {
    collection: SECRETS,
    name: 'latest_by_record',
    key: { workspaceId: 1, purpose: 1, recordId: 1, revision: -1, kekVersion: -1 },
    serves: 'SecretsRepository.latest: the newest version of one secret',
  },
  {
    collection: SECRETS,
    name: 'by_kek_version',
    key: { kekVersion: 1 },
    serves: 'SecretsRepository.sealedBelow: the rewrap job finding data keys under older KEKs',
  },
];

export function secretDocId(
  ws: string,
  purpose: string,
  recordId: string,
  revision: number,
  kekVersion: number,
) {
  return `${ws}:${purpose}:${recordId}:r${revision}:k${kekVersion}`;
}

export interface SecretsRepository {
  /** The newest version of a secret (possibly a deletion marker), or null if never stored. */
  latest(ws: WorkspaceId, purpose: VaultPurpose, recordId: string): Promise<SecretDoc | null>;
  /** Inserts a version; false when that `_id` exists (a concurrent writer took the revision). */
  insert(ws: WorkspaceId, doc: Omit<SecretDoc, 'workspaceId'>): Promise<boolean>;
  /** Deletes one stored version by `_id` (a write that turned out stale). */
  discard(ws: WorkspaceId, id: string): Promise<number>;
  /** Deletes every version of the secret older than `revision` (old ciphertexts go for good). */
  pruneBefore(ws: WorkspaceId, purpose: VaultPurpose, recordId: string, revision: number): Promise<number>;
  /** The newest live version of each secret of the workspace. */
  list(ws: WorkspaceId): Promise<SecretDoc[]>;
  /**
   * Key management across tenants (the rewrap job): up to `limit` stored versions whose data
   * key is wrapped under a KEK older than `kekVersion`, and the batch writes it needs.
   */
  readonly keys: {
    sealedBelow(kekVersion: number, limit: number): Promise<SecretDoc[]>;
    countBelow(kekVersion: number): Promise<number>;
    insertMany(docs: SecretDoc[]): Promise<number>;
    deleteIds(ids: string[]): Promise<number>;
  };
}

export function secretsRepository(db: Db): SecretsRepository {
  const repo: TenantRepository<SecretDoc> = tenantRepository<SecretDoc>(db, SECRETS);
  // The rewrap job is key management: it walks every tenant's ciphertexts by KEK version and
  // never sees a value, so it is the one reader that is not scoped to a workspace. Documents
  // it inserts carry the workspaceId of the version they replace.
  const all: GlobalRepository<SecretDoc> = globalRepository<SecretDoc>(db, SECRETS);
  return {
    async latest(ws, purpose, recordId) {
      const [doc] = await repo.find(
        ws,
        { purpose, recordId },
        { sort: { revision: -1, kekVersion: -1 }, limit: 1 },
      );
      return doc ?? null;
    },
    async insert(ws, doc) {
      return repo.insertOnce(ws, doc);
    },
    discard(ws, id) {
      return repo.deleteOne(ws, { _id: id });
    },
    pruneBefore(ws, purpose, recordId, revision) {
      return repo.deleteMany(ws, { purpose, recordId, revision: { $lt: revision } });
    },
    async list(ws) {
      const docs = await repo.find(
        ws,
        {},
        { sort: { purpose: 1, recordId: 1, revision: -1, kekVersion: -1 } },
      );
      const newest = new Map<string, SecretDoc>();
      for (const doc of docs) {
        const key = `${doc.purpose}:${doc.recordId}`;
        if (!newest.has(key)) newest.set(key, doc);
      }
      return [...newest.values()].filter((doc) => !doc.deleted);
    },
    keys: {
      // Unsorted: on FerretDB a sort costs four times the scan, and any order will do.
      sealedBelow: (kekVersion, limit) => all.find({ kekVersion: { $lt: kekVersion } }, { limit }),
      countBelow: (kekVersion) => all.countDocuments({ kekVersion: { $lt: kekVersion } }),
      async insertMany(docs) {
        if (docs.length === 0) return 0;
        return (await all.insertMany(docs, { ignoreDuplicates: true })).inserted;
      },
      async deleteIds(ids) {
        if (ids.length === 0) return 0;
        return all.deleteMany({ _id: { $in: ids } });
      },
    },
  };
}
