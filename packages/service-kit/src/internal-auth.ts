import { AppError } from '@wapi/contracts';
import { createSigner, createVerifier } from 'fast-jwt';
import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The calling service, set by an internal-auth hook. */
    caller?: string;
  }
}

/** How long a service token lives. Short, because it is minted per call and never stored. */
export const INTERNAL_TOKEN_TTL_SECONDS = 60;

export interface InternalAuthOptions {
  /** This service's name: the `iss` of tokens it mints and the `aud` it accepts. */
  service: string;
  /** Shared HMAC key (`INTERNAL_AUTH_SECRET`). */
  secret: string;
  /**
   * Services allowed to call this one (their `iss`). Omitted: any wapi service. Set it on
   * services that only some callers may reach (vault: gateway and message-sender).
   */
  allowedCallers?: readonly string[];
  now?: () => number;
}

export interface InternalAuth {
  /** A bearer token for a call from this service to `audience`. */
  tokenFor(audience: string): string;
  /** Authorization header value for a call to `audience`. */
  headerFor(audience: string): string;
  /**
   * Fastify `onRequest` hook: 401 unless the caller presents a valid token addressed to
   * this service from an allowed caller. Sets `request.caller` to the calling service.
   */
  require: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

/**
 * Service-to-service authentication: HS256 JWTs whose audience is the target service,
 * valid for {@link INTERNAL_TOKEN_TTL_SECONDS}. A missing, expired, badly signed or
 * wrongly addressed token gets 401.
 */
export function createInternalAuth(options: InternalAuthOptions): InternalAuth {
  const now = options.now ?? Date.now;
  const key = options.secret;
  const verify = createVerifier({
    key,
    algorithms: ['HS256'],
    allowedAud: options.service,
    requiredClaims: ['iss', 'aud', 'exp', 'iat'],
    clockTolerance: 5_000,
    // And refuse one issued longer ago than a token can live.
    maxAge: (INTERNAL_TOKEN_TTL_SECONDS + 5) * 1000,
    ...(options.allowedCallers ? { allowedIss: [...options.allowedCallers] } : {}),
    cache: false,
  });

  function tokenFor(audience: string): string {
    const sign = createSigner({
      key,
      algorithm: 'HS256',
      aud: audience,
      iss: options.service,
      expiresIn: INTERNAL_TOKEN_TTL_SECONDS * 1000,
      clockTimestamp: now(),
    });
    return sign({});
  }

  return {
    tokenFor,
    headerFor: (audience) => `Bearer ${tokenFor(audience)}`,
    async require(request) {
      const header = request.headers.authorization;
      if (!header) throw new AppError('INTERNAL_AUTH_REQUIRED');
      const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(header);
      if (!match) throw new AppError('INTERNAL_AUTH_INVALID');
      try {
        const claims = verify(match[1]!) as { iss: string; iat: number; exp: number };
        // Tokens are minted per call: refuse one whose minter chose a longer life.
        if (claims.exp - claims.iat > INTERNAL_TOKEN_TTL_SECONDS) throw new Error('lifetime too long');
        request.caller = claims.iss;
      } catch {
        // The verifier's message could echo claims; the catalogue message says enough.
        throw new AppError('INTERNAL_AUTH_INVALID');
      }
    },
  };
}
