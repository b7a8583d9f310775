import { createPrivateKey, createPublicKey } from 'node:crypto';

/** PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows it. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The PEM pair @fastify/jwt signs and verifies with, from an Ed25519 seed (64 hex or 43 base64url characters). */
export function accessTokenKeys(seed: string): { private: string; public: string } {
  const bytes = /^[0-9a-fA-F]{64}$/.test(seed) ? Buffer.from(seed, 'hex') : Buffer.from(seed, 'base64url');
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, bytes]),
    format: 'der',
    type: 'pkcs8',
  });
  return {
    private: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    public: createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** Access tokens live 15 minutes (OWASP: short-lived, renewed by the refresh token). */
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/** Refresh tokens (and so a login session without activity) live 7 days. */
export const REFRESH_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;
/**
 * A refresh token used again within this many ms of its first use is a concurrent refresh
 * (two tabs, a retried request), answered with a new pair; later, it is a reuse.
 */
export const REFRESH_REUSE_GRACE_MS = 10_000;

/** The claims of an access token beyond iss/aud/iat/exp. */
export interface AccessClaims {
  /** user id */
  sub: string;
  /** the workspace this token acts in */
  ws: string;
  /** the session (refresh-token family), revoked by logout or reuse */
  sid: string;
}
