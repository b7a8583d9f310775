import type { Role } from '@wapi/contracts';
import { globalRepository, type IndexSpec } from '@wapi/store';
import type { Db } from 'mongodb';

/**
 * An API key. A directory keyed by the key's id (the id is part of the key), because
 * authentication must find the key before it knows the workspace; every read inside a
 * workspace filters by `workspaceId` (see the api-keys routes).
 */
export interface ApiKeyDoc {
  _id: string;
  workspaceId: string;
  name: string;
  role: Role;
  /** SHA-256 of the whole key. */
  hash: string;
  hint: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export const apiKeyRepository = (db: Db) => globalRepository<ApiKeyDoc>(db, 'api_keys');
export type ApiKeyRepository = ReturnType<typeof apiKeyRepository>;

export const apiKeyIndexes: IndexSpec[] = [
  {
    collection: 'api_keys',
    name: 'workspace',
    key: { workspaceId: 1, createdAt: 1 },
    serves: 'apiKeys.find({ workspaceId }) listing a workspace’s keys',
  },
];
