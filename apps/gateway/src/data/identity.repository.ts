import { globalRepository, type IndexSpec } from '@wapi/store';
import type { Db } from 'mongodb';

/** A person. `_id` is the user id; memberships are mirrored here for login and `auth/me`. */
export interface UserDoc {
  _id: string;
  email: string;
  name: string;
  /** Workspaces the user belongs to, in joining order (the first is the login default). */
  workspaceIds: string[];
  createdAt: Date;
}

/** Credentials by normalised e-mail: login is a lookup by `_id`, and `insertOnce` makes sign-up unique. */
export interface LoginDoc {
  _id: string;
  userId: string;
  passwordHash: string;
}

/** One refresh token, by SHA-256 of the token (the token itself is never stored). */
export interface RefreshTokenDoc {
  _id: string;
  familyId: string;
  userId: string;
  workspaceId: string;
  createdAt: Date;
  expiresAt: Date;
  /** Set atomically when the token is exchanged; a second exchange is a reuse. */
  usedAt: Date | null;
}

/** A login session: every refresh token rotated from one login shares it. */
export interface RefreshFamilyDoc {
  _id: string;
  userId: string;
  revokedAt: Date | null;
  expiresAt: Date;
}

export function identityRepositories(db: Db) {
  return {
    users: globalRepository<UserDoc>(db, 'users'),
    logins: globalRepository<LoginDoc>(db, 'logins'),
    refreshTokens: globalRepository<RefreshTokenDoc>(db, 'refresh_tokens'),
    refreshFamilies: globalRepository<RefreshFamilyDoc>(db, 'refresh_families'),
  };
}
export type IdentityRepositories = ReturnType<typeof identityRepositories>;

export const identityIndexes: IndexSpec[] = [
  {
    collection: 'refresh_tokens',
    name: 'family',
    key: { familyId: 1 },
    serves: 'revoking a family: refreshTokens.updateMany({ familyId }) on reuse and logout',
  },
  {
    collection: 'refresh_tokens',
    name: 'expiry',
    key: { expiresAt: 1 },
    serves: 'the expiry sweeper: deleteMany({ expiresAt <= now })',
  },
];
