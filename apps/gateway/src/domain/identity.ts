import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AppError, type SignupRequest, type TokenResponse, type Workspace } from '@wapi/contracts';
import { asWorkspaceId } from '@wapi/store';
import type { AuthCache } from '../data/auth-cache';
import type { IdentityRepositories, RefreshTokenDoc } from '../data/identity.repository';
import type { LoginThrottle } from '../data/login-throttle';
import { memberKey, type WorkspaceDoc, type WorkspaceRepositories } from '../data/workspaces.repository';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  type AccessClaims,
  REFRESH_REUSE_GRACE_MS,
  REFRESH_TOKEN_TTL_MS,
} from './access-token';
import { newId } from './ids';
import { hashPassword, verifyPassword } from './passwords';

export interface IdentityDeps {
  identity: IdentityRepositories;
  tenancy: WorkspaceRepositories;
  cache: AuthCache;
  throttle: LoginThrottle;
  sign(claims: AccessClaims): string;
  now(): Date;
  sendLimitOf(workspace: Pick<WorkspaceDoc, 'plan' | 'sendsPerMinute'>): number;
}

/** E-mail addresses compare case-insensitively (what users expect, and what login keys on). */
export const normaliseEmail = (email: string) => email.trim().toLowerCase();
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export function workspaceView(doc: WorkspaceDoc, sendsPerMinute: number): Workspace {
  return {
    id: doc._id,
    name: doc.name,
    plan: doc.plan,
    sendsPerMinute,
    createdAt: doc.createdAt.toISOString(),
  };
}

export function createIdentity(deps: IdentityDeps) {
  const { identity, tenancy } = deps;

  /** A new refresh token in `familyId` and an access token for `ws`. */
  async function issue(userId: string, ws: string, familyId: string): Promise<TokenResponse> {
    const now = deps.now();
    const refreshToken = `wapir_${randomBytes(32).toString('base64url')}`;
    const refreshExpiresAt = new Date(now.getTime() + REFRESH_TOKEN_TTL_MS);
    await identity.refreshTokens.insertOne({
      _id: sha256(refreshToken),
      familyId,
      userId,
      workspaceId: ws,
      createdAt: now,
      expiresAt: refreshExpiresAt,
      usedAt: null,
    });
    return {
      accessToken: deps.sign({ sub: userId, ws, sid: familyId }),
      tokenType: 'Bearer',
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      refreshToken,
      refreshExpiresAt: refreshExpiresAt.toISOString(),
      workspaceId: ws,
    };
  }

  async function startSession(userId: string, ws: string): Promise<TokenResponse> {
    const familyId = randomUUID();
    const expiresAt = new Date(deps.now().getTime() + REFRESH_TOKEN_TTL_MS);
    await identity.refreshFamilies.insertOne({ _id: familyId, userId, revokedAt: null, expiresAt });
    return issue(userId, ws, familyId);
  }

  /** Revokes every token of a session: refresh tokens by the family flag, access tokens by the Redis marker. */
  async function revokeFamily(familyId: string): Promise<void> {
    await deps.cache.revokeSession(familyId);
    await identity.refreshFamilies.updateOne({ _id: familyId }, { $set: { revokedAt: deps.now() } });
  }

  return {
    async signup(input: SignupRequest) {
      const email = normaliseEmail(input.email);
      const userId = newId('usr');
      const passwordHash = await hashPassword(input.password);
      // The e-mail is the `_id` of the login document: the insert is the uniqueness check.
      if (!(await identity.logins.insertOnce({ _id: email, userId, passwordHash })))
        throw new AppError('EMAIL_TAKEN');
      const ws = newId('ws');
      const now = deps.now();
      const workspace: WorkspaceDoc = {
        _id: ws,
        name: input.workspaceName,
        plan: 'free',
        sendsPerMinute: null,
        createdAt: now,
        owners: [userId],
      };
      await tenancy.workspaces.insertOne(workspace);
      await identity.users.insertOne({
        _id: userId,
        email,
        name: input.name,
        workspaceIds: [ws],
        createdAt: now,
      });
      await tenancy.members.insertOne(asWorkspaceId(ws), {
        _id: memberKey(ws, userId),
        userId,
        email,
        name: input.name,
        role: 'owner',
        addedAt: now,
      });
      return {
        user: { id: userId, email, name: input.name },
        workspace: workspaceView(workspace, deps.sendLimitOf(workspace)),
        tokens: await startSession(userId, ws),
      };
    },

    async login(input: { email: string; password: string; workspaceId?: string | undefined }, ip: string) {
      const email = normaliseEmail(input.email);
      await deps.throttle.assertAllowed(email, ip);
      const login = await identity.logins.findOne({ _id: email });
      if (!(await verifyPassword(login?.passwordHash, input.password)) || !login) {
        await deps.throttle.recordFailure(email, ip);
        throw new AppError('LOGIN_FAILED');
      }
      await deps.throttle.recordSuccess(email);
      const user = await identity.users.findOne({ _id: login.userId });
      const ws = input.workspaceId ?? user?.workspaceIds[0];
      // Not a member of the asked workspace: the same answer as for an unknown one.
      if (!user || !ws || !user.workspaceIds.includes(ws))
        throw new AppError('NOT_FOUND', 'You are not a member of this workspace.');
      return startSession(user._id, ws);
    },

    async refresh(refreshToken: string): Promise<TokenResponse> {
      const now = deps.now();
      const id = sha256(refreshToken);
      // Atomic: of two exchanges of one token, exactly one sees usedAt null.
      const before = await identity.refreshTokens.findOneAndUpdate(
        { _id: id, usedAt: null },
        { $set: { usedAt: now } },
      );
      const token: RefreshTokenDoc | null = before ?? (await identity.refreshTokens.findOne({ _id: id }));
      if (!token || token.expiresAt <= now) throw new AppError('REFRESH_TOKEN_INVALID');
      const family = await identity.refreshFamilies.findOne({ _id: token.familyId });
      if (!family || family.revokedAt !== null) throw new AppError('REFRESH_TOKEN_INVALID');
      if (!before) {
        const usedAt = token.usedAt ?? now;
        if (now.getTime() - usedAt.getTime() > REFRESH_REUSE_GRACE_MS) {
          // A used token presented again: it leaked (or the legitimate client was
          // replaced by a thief). Either way the session cannot be trusted any more.
          await revokeFamily(token.familyId);
          throw new AppError('REFRESH_TOKEN_REUSED');
        }
      }
      // The session lives as long as its newest refresh token (the sweeper deletes it after).
      await identity.refreshFamilies.updateOne(
        { _id: token.familyId },
        { $set: { expiresAt: new Date(now.getTime() + REFRESH_TOKEN_TTL_MS) } },
      );
      return issue(token.userId, token.workspaceId, token.familyId);
    },

    logout: (sid: string) => revokeFamily(sid),
  };
}
export type Identity = ReturnType<typeof createIdentity>;
