#!/usr/bin/env node
// Generates the per-service Ed25519 keys for internal (service-to-service) auth, for
// docker-compose.yml's one-shot `internal-keys` service. Plain Node (no dependencies), so
// it runs in the stock node image with only this file and services.json mounted.
//
//   node internal-keys.mjs <services.json> <out-dir> [--owner=UID:GID]
//
// For every service with `internalAuth: true` it writes, under <out-dir>/<service>/:
//   private-key  the service's own key: base64url (no padding) of the raw 32-byte Ed25519
//                seed, mode 0400; read by the service as INTERNAL_AUTH_PRIVATE_KEY_FILE
//   public-keys  `caller=<base64url raw public key>,...` for exactly the service's
//                `callers`, mode 0444; read as INTERNAL_AUTH_PUBLIC_KEYS_FILE
// Each service mounts only its own folder, so none can read another's private key.
//
// Idempotent: an existing private key is kept (restarting the stack must not rotate keys
// under running services); public-keys files are always rewritten from the current keys
// and services.json, so a changed callers list takes effect on the next `up`. To rotate
// every key, remove the volume (docker compose down && docker volume rm <project>_internal-keys).
// Key material is never printed.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** PKCS#8 DER of an Ed25519 private key is this fixed prefix followed by the 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SEED_BASE64URL = /^[A-Za-z0-9_-]{43}$/;

function fail(message) {
  process.stderr.write(`internal-keys: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const positional = argv.filter((a) => !a.startsWith('--'));
  const ownerArg = argv.find((a) => a.startsWith('--owner='));
  if (positional.length !== 2 || argv.some((a) => a.startsWith('--') && !a.startsWith('--owner=')))
    fail('usage: node internal-keys.mjs <services.json> <out-dir> [--owner=UID:GID]');
  let owner;
  if (ownerArg) {
    const match = /^--owner=(\d+):(\d+)$/.exec(ownerArg);
    if (!match) fail(`--owner must be UID:GID in numbers, e.g. --owner=1000:1000 (got ${ownerArg})`);
    owner = { uid: Number(match[1]), gid: Number(match[2]) };
  }
  return { servicesFile: positional[0], outDir: positional[1], owner };
}

function newSeed() {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return der.subarray(der.length - 32);
}

function publicKeyOf(seed) {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - 32).toString('base64url');
}

/** Writes beside the target and renames, so a reader never sees a half-written file. */
function writeAtomically(file, text, mode, owner) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode); // the umask may have narrowed the mode given to writeFileSync
  if (owner) chownSync(tmp, owner.uid, owner.gid);
  renameSync(tmp, file);
}

const { servicesFile, outDir, owner } = parseArgs(process.argv.slice(2));
let table;
try {
  table = JSON.parse(readFileSync(servicesFile, 'utf8'));
} catch (error) {
  fail(
    `cannot read the service table ${servicesFile} (${error.message}); mount packages/contracts/src/services.json there`,
  );
}
const names = Object.keys(table).filter((name) => table[name].internalAuth === true);
for (const name of names) {
  for (const caller of table[name].callers ?? []) {
    if (!names.includes(caller))
      fail(
        `services.json: ${name} lists caller ${caller}, which has no internal auth key; fix services.json`,
      );
  }
}

const publicKeys = {};
for (const name of names) {
  const dir = join(outDir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const file = join(dir, 'private-key');
  let seed;
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    if (!SEED_BASE64URL.test(text))
      fail(
        `${file} is not a base64url Ed25519 seed (43 characters); delete it to generate a new key for ${name}`,
      );
    seed = Buffer.from(text, 'base64url');
    // Re-assert mode and owner: an older run or a manual copy may have left them wider.
    chmodSync(file, 0o400);
    if (owner) chownSync(file, owner.uid, owner.gid);
    process.stdout.write(`internal-keys: ${name}: kept its private key\n`);
  } else {
    seed = newSeed();
    writeAtomically(file, `${seed.toString('base64url')}\n`, 0o400, owner);
    process.stdout.write(`internal-keys: ${name}: generated a private key\n`);
  }
  publicKeys[name] = publicKeyOf(seed);
}

for (const name of names) {
  const callers = table[name].callers ?? [];
  const line = callers.map((caller) => `${caller}=${publicKeys[caller]}`).join(',');
  writeAtomically(join(outDir, name, 'public-keys'), `${line}\n`, 0o444, owner);
  process.stdout.write(
    `internal-keys: ${name}: accepts ${callers.length > 0 ? callers.join(', ') : 'no internal callers'}\n`,
  );
}
