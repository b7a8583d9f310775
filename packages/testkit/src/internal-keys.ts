import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { SERVICES, type ServiceName } from '@wapi/contracts';

/** An Ed25519 key pair in the formats of `INTERNAL_AUTH_PRIVATE_KEY` / `INTERNAL_AUTH_PUBLIC_KEYS`. */
export interface ServiceKeyPair {
  /** base64url of the 32-byte seed. */
  privateKey: string;
  /** base64url of the 32-byte public key. */
  publicKey: string;
}

/**
 * A fresh Ed25519 key pair. Written against the documented key format with node:crypto
 * alone, not through service-kit, so the conformance suite checks the services against the
 * format rather than against their own code.
 */
export function generateServiceKeys(): ServiceKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64url'),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64url'),
  };
}

let keySet: Map<ServiceName, ServiceKeyPair> | undefined;

/** One key pair per service, the same for the whole test process. */
export function testKeySet(): ReadonlyMap<ServiceName, ServiceKeyPair> {
  keySet ??= new Map(Object.keys(SERVICES).map((name) => [name as ServiceName, generateServiceKeys()]));
  return keySet;
}

/**
 * `INTERNAL_AUTH_PRIVATE_KEY` (the service's own key) and `INTERNAL_AUTH_PUBLIC_KEYS` (those
 * of the callers services.json allows), as `./wapi up` and docker-compose set them.
 */
export function internalAuthEnv(service: ServiceName): Record<string, string> {
  const keys = testKeySet();
  return {
    INTERNAL_AUTH_PRIVATE_KEY: keys.get(service)!.privateKey,
    INTERNAL_AUTH_PUBLIC_KEYS: SERVICES[service].callers
      .map((caller) => `${caller}=${keys.get(caller)!.publicKey}`)
      .join(','),
  };
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A service token (EdDSA JWT) as the documented format has it, signed with `privateKey`.
 * `claims` override the defaults, so tests can forge what an attacker would.
 */
export function mintServiceToken(
  privateKey: string,
  claims: { iss: string; aud: unknown } & Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'EdDSA', typ: 'JWT' },
): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part(header)}.${part({ iat: now, exp: now + 60, ...claims })}`;
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(privateKey, 'base64url')]),
    format: 'der',
    type: 'pkcs8',
  });
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}
