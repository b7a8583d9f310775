import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id with OWASP's first recommended configuration (Password Storage Cheat Sheet):
 * m = 19 MiB, t = 2, p = 1. Parameters are stored in the hash, so raising them later
 * still verifies old hashes.
 */
const OPTIONS = {
  // `Algorithm.Argon2id` (a const enum, which verbatimModuleSyntax cannot import)
  algorithm: 2,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

// Verified when the account does not exist, so a login takes as long either way and its
// timing does not tell which e-mail addresses have accounts.
let dummy: Promise<string> | undefined;

/** True when `password` matches `stored`; with no `stored`, spends the same time and is false. */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  if (stored === undefined) {
    dummy ??= hashPassword('not-a-real-password-0000');
    await verify(await dummy, password).catch(() => false);
    return false;
  }
  return verify(stored, password).catch(() => false);
}
