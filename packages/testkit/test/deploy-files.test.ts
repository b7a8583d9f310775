import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { SERVICE_NAMES, SERVICES, type ServiceName } from '@wapi/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestContext } from '../src/context';
import {
  type ComposeMount,
  composeDurationMs,
  composeSets,
  composeVariables,
  readCompose,
  readDockerfile,
  requiredVariablesIn,
  shellWords,
} from '../src/deploy-files';
import { repoRoot } from '../src/infra';
import { freePort } from '../src/ports';
import { waitFor } from '../src/wait';

const run = promisify(execFile);
const KEY_SCRIPT = join(repoRoot(), 'infra', 'compose', 'internal-keys.mjs');
const SERVICES_JSON = join(repoRoot(), 'packages', 'contracts', 'src', 'services.json');
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const KEY_MOUNT = '/run/secrets/wapi';
const withInternalAuth = SERVICE_NAMES.filter((name) => SERVICES[name].internalAuth);

/** Every string in a parsed YAML value, with its path, for checks over the whole file. */
function stringsIn(value: unknown, path = ''): { path: string; value: string }[] {
  if (typeof value === 'string') return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringsIn(v, `${path}[${i}]`));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => stringsIn(v, path ? `${path}.${k}` : k));
  return [];
}

// No Docker engine runs here, so the compose file is checked for what it says; each app's
// conformance suite checks that compose sets every variable that app requires.
describe('docker-compose.yml', () => {
  const compose = readCompose();
  const { services } = compose;
  const text = readFileSync(join(repoRoot(), 'docker-compose.yml'), 'utf8');

  it('runs MongoDB 7 as an authenticated replica set with a keyFile generated on first start', () => {
    const mongo = services.mongo!;
    expect(mongo.image).toBe('mongo:7');
    expect(mongo.command).toEqual(
      expect.arrayContaining(['mongod', '--replSet', 'rs0', '--keyFile', '/data/configdb/keyfile']),
    );
    const entrypoint = JSON.stringify(mongo.entrypoint);
    expect(entrypoint).toContain('/dev/urandom');
    expect(entrypoint).toContain('chmod 0400');
    expect(entrypoint).toContain('exec docker-entrypoint.sh');
    expect(mongo.volumes).toContain('mongo-config:/data/configdb');
    for (const name of ['MONGO_INITDB_ROOT_USERNAME', 'MONGO_INITDB_ROOT_PASSWORD'])
      expect(composeVariables(String(mongo.environment?.[name]))).toEqual([
        expect.objectContaining({ operator: ':?' }),
      ]);
    const health = JSON.stringify(mongo.healthcheck?.test);
    expect(health).toContain('rs.initiate');
    expect(health).toContain('$$MONGO_INITDB_ROOT_PASSWORD');
  });

  it('runs Redis 7 with AOF, noeviction and a required password, which its health check uses', () => {
    const redis = services.redis!;
    expect(redis.image).toBe('redis:7');
    const command = redis.command as string[];
    expect(command).toEqual(
      expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']),
    );
    const password = command[command.indexOf('--requirepass') + 1] ?? '';
    expect(composeVariables(password)).toEqual([
      expect.objectContaining({ name: 'REDIS_PASSWORD', operator: ':?' }),
    ]);
    expect(redis.environment?.REDISCLI_AUTH).toBe(password);
    expect(JSON.stringify(redis.healthcheck?.test)).toContain('grep -qx PONG');
  });

  it('has no default for any variable: each is the required form (VAR:?message) naming what to set', () => {
    const uses = stringsIn(compose).flatMap((s) =>
      composeVariables(s.value).map((v) => ({ at: s.path, ...v })),
    );
    expect(uses.length).toBeGreaterThan(0);
    for (const use of uses) {
      expect(use.operator, `${use.at}: \${${use.name}} must be \${${use.name}:?message}`).toBe(':?');
      expect(use.argument).toContain(use.name);
    }
    expect(new Set(uses.map((u) => u.name))).toEqual(
      new Set([
        'MONGO_ROOT_USERNAME',
        'MONGO_ROOT_PASSWORD',
        'REDIS_PASSWORD',
        'SANDBOX_ADMIN_TOKEN',
        'TOKEN_MASTER_KEY',
        'ACCESS_TOKEN_PRIVATE_KEY',
        'WEBHOOK_VERIFY_TOKEN',
        'META_APP_ID',
      ]),
    );
    // The header's start command sets exactly these, each from openssl rand but the user name.
    for (const name of [
      'MONGO_ROOT_PASSWORD',
      'REDIS_PASSWORD',
      'SANDBOX_ADMIN_TOKEN',
      'TOKEN_MASTER_KEY',
      'ACCESS_TOKEN_PRIVATE_KEY',
    ])
      expect(text).toContain(`#   ${name}=$(openssl rand -hex 32)`);
    expect(text).toContain('#   MONGO_ROOT_USERNAME=');
    expect(text).toContain('#   WEBHOOK_VERIFY_TOKEN=$(openssl rand -hex 16)');
    expect(text).toContain('#   META_APP_ID=');
    expect(text).toContain('#   docker compose up --build');
  });

  it('wires the Meta settings: Graph and the app id for gateway, the app ids, verify token and vault for webhook-ingest, and says how the app secret reaches vault', () => {
    const gateway = services.gateway?.environment ?? {};
    expect(gateway.GRAPH_BASE_URL).toBe('http://meta-sandbox:7105');
    expect(composeVariables(String(gateway.META_APP_ID))).toEqual([
      expect.objectContaining({ name: 'META_APP_ID' }),
    ]);
    const ingest = services['webhook-ingest']?.environment ?? {};
    expect(ingest.VAULT_URL).toBe('http://vault:7104');
    expect(composeVariables(String(ingest.META_APP_IDS))).toEqual([
      expect.objectContaining({ name: 'META_APP_ID' }),
    ]);
    expect(composeVariables(String(ingest.WEBHOOK_VERIFY_TOKEN))).toEqual([
      expect.objectContaining({ name: 'WEBHOOK_VERIFY_TOKEN' }),
    ]);
    // The secret itself never goes into .env or the compose file: gateway's command stores it.
    expect(text).not.toMatch(/APP_SECRET[S]?:/);
    expect(text).toContain('docker compose run --rm -T gateway node dist/store-app-secret.js');
  });

  it('keeps .env, where the header puts the credentials, out of the image build context and git', () => {
    const ignored = readFileSync(join(repoRoot(), '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toContain('.env');
    expect(readFileSync(join(repoRoot(), '.gitignore'), 'utf8').split('\n')).toContain('.env');
  });

  it('names all six services, each built from the Dockerfile for itself, waiting for healthy Redis', () => {
    for (const name of SERVICE_NAMES) {
      expect(services[name]?.build).toEqual({ context: '.', args: { SERVICE: name } });
      expect(services[name]?.depends_on?.redis?.condition).toBe('service_healthy');
    }
    expect(Object.keys(services).sort()).toEqual(
      [...SERVICE_NAMES, 'mongo', 'redis', 'internal-keys'].sort(),
    );
  });

  it('gives every service its port from the service table and the credentialed compose Redis and MongoDB URLs', () => {
    for (const name of SERVICE_NAMES) {
      const env = services[name]?.environment ?? {};
      expect(env.PORT).toBe(String(SERVICES[name].port));
      expect(env.REDIS_URL).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379$/);
      if (SERVICES[name].database) {
        expect(env.MONGO_URL).toMatch(
          /^mongodb:\/\/\$\{MONGO_ROOT_USERNAME:\?[^}]+\}:\$\{MONGO_ROOT_PASSWORD:\?[^}]+\}@mongo:27017\/\?/,
        );
        const query = new URLSearchParams(String(env.MONGO_URL).split('?').at(-1));
        expect(Object.fromEntries(query)).toEqual({ replicaSet: 'rs0', authSource: 'admin' });
        expect(services[name]?.depends_on?.mongo?.condition).toBe('service_healthy');
      }
    }
  });

  it('publishes the gateway and webhook-ingest, meta-sandbox on 127.0.0.1 only, and nothing else', () => {
    const published = Object.fromEntries(
      Object.entries(services)
        .filter(([, s]) => s.ports)
        .map(([name, s]) => [name, s.ports]),
    );
    expect(published).toEqual({
      gateway: ['7100:7100'],
      'webhook-ingest': ['7101:7101'],
      'meta-sandbox': ['127.0.0.1:7105:7105'],
    });
  });

  it('gives meta-sandbox no default admin token: SANDBOX_ADMIN_TOKEN must come from the environment', () => {
    const token = String(services['meta-sandbox']?.environment?.SANDBOX_ADMIN_TOKEN);
    expect(composeVariables(token)).toEqual([
      { name: 'SANDBOX_ADMIN_TOKEN', operator: ':?', argument: expect.stringContaining('.env') },
    ]);
    expect(token).toBe(`\${SANDBOX_ADMIN_TOKEN:?${composeVariables(token)[0]?.argument}}`);
  });

  it('lets every service finish its graceful shutdown: stop_grace_period exceeds SHUTDOWN_TIMEOUT_MS', () => {
    for (const name of SERVICE_NAMES) {
      const service = services[name]!;
      expect(service.stop_grace_period, `${name} stop_grace_period`).toBeDefined();
      const shutdownMs = Number(service.environment?.SHUTDOWN_TIMEOUT_MS);
      expect(shutdownMs, `${name} SHUTDOWN_TIMEOUT_MS`).toBeGreaterThan(0);
      expect(composeDurationMs(String(service.stop_grace_period))).toBeGreaterThan(shutdownMs);
    }
  });

  it('mounts into each service with internal auth only its own key folder, read-only, after the keys exist', () => {
    const keyMounts = (name: string) =>
      (services[name]?.volumes ?? []).filter(
        (v): v is ComposeMount => typeof v === 'object' && v.source === 'internal-keys',
      );
    for (const name of withInternalAuth) {
      expect(keyMounts(name), name).toEqual([
        {
          type: 'volume',
          source: 'internal-keys',
          target: KEY_MOUNT,
          read_only: true,
          volume: { subpath: name },
        },
      ]);
      const env = services[name]?.environment ?? {};
      expect(env.INTERNAL_AUTH_PRIVATE_KEY_FILE).toBe(`${KEY_MOUNT}/private-key`);
      expect(env.INTERNAL_AUTH_PUBLIC_KEYS_FILE).toBe(`${KEY_MOUNT}/public-keys`);
      expect(services[name]?.depends_on?.['internal-keys']?.condition).toBe('service_completed_successfully');
    }
    for (const name of SERVICE_NAMES.filter((n) => !SERVICES[n].internalAuth)) {
      expect(keyMounts(name), name).toEqual([]);
      expect(services[name]?.depends_on?.['internal-keys']).toBeUndefined();
    }
    // Only the generator sees the whole volume.
    const whole = Object.keys(services).filter((name) =>
      (services[name]?.volumes ?? []).some((v) =>
        typeof v === 'string'
          ? v.startsWith('internal-keys:')
          : v.source === 'internal-keys' && !v.volume?.subpath,
      ),
    );
    expect(whole).toEqual(['internal-keys']);
    expect(text).not.toContain('INTERNAL_AUTH_SECRET');
    expect(Object.keys(compose.volumes ?? {})).toContain('internal-keys');
  });

  it('generates the keys with the committed script from services.json, offline, owned by the image user', () => {
    const generator = services['internal-keys']!;
    expect(generator.image).toMatch(/^node:20/);
    expect(generator.network_mode).toBe('none');
    expect(generator.restart).toBe('no');
    const mounts = (generator.volumes ?? []) as ComposeMount[];
    const target = (source: string) => mounts.find((m) => m.source === source)?.target;
    expect(mounts.filter((m) => m.type === 'bind').every((m) => m.read_only)).toBe(true);
    expect(existsSync(join(repoRoot(), 'infra/compose/internal-keys.mjs'))).toBe(true);
    expect(generator.command).toEqual([
      'node',
      target('./infra/compose/internal-keys.mjs'),
      target('./packages/contracts/src/services.json'),
      target('internal-keys'),
      '--owner=1000:1000',
    ]);
  });
});

describe('composeSets', () => {
  it('counts a variable as set when compose gives it directly or as NAME_FILE', () => {
    const env = { A: 'x', B_FILE: '/run/secrets/b' };
    expect([composeSets(env, 'A'), composeSets(env, 'B'), composeSets(env, 'C')]).toEqual([
      true,
      true,
      false,
    ]);
  });
});

// ---------------------------------------------------------------------------------------
// infra/compose/internal-keys.mjs, run for real on a temporary folder.

function privateKeyOf(seedBase64url: string) {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seedBase64url, 'base64url')]),
    format: 'der',
    type: 'pkcs8',
  });
}
function publicKeyOf(rawBase64url: string) {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: rawBase64url }, format: 'jwk' });
}
function parsePublicKeys(line: string): [string, string][] {
  return line
    .split(',')
    .filter(Boolean)
    .map((entry) => entry.split('=') as [string, string]);
}
async function generateKeys(outDir: string, servicesFile = SERVICES_JSON, extra: string[] = []) {
  return run(process.execPath, [KEY_SCRIPT, servicesFile, outDir, ...extra], { timeout: 30_000 });
}

describe('infra/compose/internal-keys.mjs', () => {
  let tmp: string;
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  // As root, prove the hand-over to the image's node user; otherwise chown to ourselves.
  const owner = uid === 0 ? { uid: 1000, gid: 1000 } : { uid, gid };
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'wapi-keys-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const readKeys = (dir: string, name: string) => ({
    privateKey: readFileSync(join(dir, name, 'private-key'), 'utf8'),
    publicKeys: readFileSync(join(dir, name, 'public-keys'), 'utf8'),
  });

  it('writes a valid Ed25519 key for exactly the services with internal auth, and the public keys of exactly their callers', async () => {
    const out = join(tmp, 'fresh');
    const { stdout } = await generateKeys(out, SERVICES_JSON, [`--owner=${owner.uid}:${owner.gid}`]);
    expect(readdirSync(out).sort()).toEqual([...withInternalAuth].sort());

    for (const name of withInternalAuth) {
      const { privateKey, publicKeys } = readKeys(out, name);
      expect(privateKey).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
      expect(stdout).not.toContain(privateKey.trim());
      const privateStat = statSync(join(out, name, 'private-key'));
      expect(privateStat.mode & 0o777).toBe(0o400);
      expect({ uid: privateStat.uid, gid: privateStat.gid }).toEqual(owner);
      expect(statSync(join(out, name, 'public-keys')).mode & 0o777).toBe(0o444);
      expect(statSync(join(out, name)).mode & 0o077).toBe(0);

      const listed = parsePublicKeys(publicKeys.trim());
      expect(listed.map(([caller]) => caller)).toEqual([...SERVICES[name].callers]);
      // Each listed key verifies what that caller signs with its own private key.
      for (const [caller, raw] of listed) {
        expect(raw).toMatch(/^[A-Za-z0-9_-]{43}$/);
        const message = Buffer.from(`${caller} calls ${name}`);
        const signature = sign(null, message, privateKeyOf(readKeys(out, caller).privateKey.trim()));
        expect(verify(null, message, publicKeyOf(raw), signature)).toBe(true);
      }
    }
    const distinct = new Set(withInternalAuth.map((name) => readKeys(out, name).privateKey));
    expect(distinct.size).toBe(withInternalAuth.length);
  });

  it('keeps existing keys on a later run, regenerates only a missing one, and follows a changed callers list', async () => {
    const out = join(tmp, 'again');
    await generateKeys(out);
    const before = Object.fromEntries(withInternalAuth.map((name) => [name, readKeys(out, name)]));

    await generateKeys(out);
    for (const name of withInternalAuth) expect(readKeys(out, name)).toEqual(before[name]);

    const lost: ServiceName = 'gateway';
    rmSync(join(out, lost, 'private-key'), { force: true });
    const table = JSON.parse(readFileSync(SERVICES_JSON, 'utf8'));
    table.vault.callers = ['compliance'];
    const changed = join(tmp, 'services-changed.json');
    writeFileSync(changed, JSON.stringify(table));
    await generateKeys(out, changed);

    const renewed = readKeys(out, lost).privateKey;
    expect(renewed).not.toBe(before[lost]?.privateKey);
    for (const name of withInternalAuth.filter((n) => n !== lost))
      expect(readKeys(out, name).privateKey).toBe(before[name]?.privateKey);
    expect(parsePublicKeys(readKeys(out, 'vault').publicKeys.trim()).map(([c]) => c)).toEqual(['compliance']);
    // Those the gateway calls now list its new public key.
    const gatewayKey = createPublicKey(privateKeyOf(renewed.trim())).export({ format: 'jwk' }).x;
    expect(readKeys(out, 'compliance').publicKeys).toContain(`gateway=${gatewayKey}`);
  });

  it('refuses a corrupt private key instead of replacing it, saying what to do, without printing it', async () => {
    const out = join(tmp, 'corrupt');
    await generateKeys(out);
    const file = join(out, 'vault', 'private-key');
    rmSync(file);
    writeFileSync(file, 'not-a-key-but-a-secret-looking-value\n', { mode: 0o400 });
    const failed = await generateKeys(out).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('delete it to generate a new key for vault');
    expect(failed?.stderr).not.toContain('secret-looking');
    expect(readFileSync(file, 'utf8')).toBe('not-a-key-but-a-secret-looking-value\n');
  });
});

// ---------------------------------------------------------------------------------------

describe('Dockerfile', () => {
  const instructions = readDockerfile();
  const runtime = instructions.filter((i) => i.stage === 'runtime');
  const build = instructions.filter((i) => i.stage === 'build');
  /** A stage's WORKDIR: its own last one, else the one of the stage it is built FROM. */
  const workdirOf = (stage: string): string => {
    const own = instructions.filter((i) => i.stage === stage && i.keyword === 'WORKDIR').at(-1);
    if (own) return own.args;
    const parent = instructions.find((i) => i.stage === stage && i.keyword === 'FROM')?.args.split(/\s+/)[0];
    return parent && instructions.some((i) => i.stage === parent) ? workdirOf(parent) : '/';
  };

  it('is multi-stage, takes the service as a build argument, and runs as a non-root user', () => {
    expect(instructions.filter((i) => i.keyword === 'FROM').length).toBeGreaterThanOrEqual(2);
    expect(instructions.at(-1)?.stage).toBe('runtime');
    expect(build.some((i) => i.keyword === 'ARG' && i.args === 'SERVICE')).toBe(true);
    expect(runtime.some((i) => i.keyword === 'ARG' && i.args === 'SERVICE')).toBe(true);
    expect(runtime.filter((i) => i.keyword === 'USER').map((i) => i.args)).toEqual(['node']);
    const userAt = runtime.findIndex((i) => i.keyword === 'USER');
    expect(runtime.findIndex((i) => i.keyword === 'CMD')).toBeGreaterThan(userAt);
  });

  it('checks health on /health/ready and starts the built server', () => {
    const health = runtime.find((i) => i.keyword === 'HEALTHCHECK');
    expect(health?.args).toContain('/health/ready');
    expect(runtime.at(-1)?.keyword).toBe('CMD');
  });

  // What the image build and `docker run` do, without Docker: the build stage's deploy
  // command and the runtime stage's COPY, ENV, CMD and HEALTHCHECK, taken from the
  // Dockerfile and run on this machine. The deployed folder lies outside the repository,
  // so a dependency missing from it cannot be found in the workspace's node_modules.
  describe('deploy step and CMD, run for real on vault', () => {
    const service: ServiceName = 'vault';
    const ctx = useTestContext('deploy');
    let tmp: string;
    let server: ChildProcess | undefined;
    beforeAll(() => {
      tmp = mkdtempSync(join(tmpdir(), 'wapi-deploy-'));
    });
    afterAll(() => {
      if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    });

    it('deploys vault with every runtime dependency; it becomes ready, passes the health check and exits 0 on SIGTERM', async () => {
      const dist = join(repoRoot(), 'apps', service, 'dist', 'server.js');
      expect(existsSync(dist), `${dist} missing: build first (pnpm turbo run build)`).toBe(true);
      for (let dir = dirname(tmp); dir !== dirname(dir); dir = dirname(dir))
        expect(
          existsSync(join(dir, 'node_modules')),
          `${dir}/node_modules would hide missing dependencies`,
        ).toBe(false);

      // Build stage: its deploy command, into a temporary folder instead of /out.
      const buildWorkdir = workdirOf('build');
      const deployRun = build.filter((i) => i.keyword === 'RUN' && / deploy /.test(i.args));
      expect(deployRun, 'one RUN ... deploy ... line in the build stage').toHaveLength(1);
      const words = shellWords(deployRun[0]!.args, { SERVICE: service });
      const outDir = words.at(-1)!;
      const appDir = join(tmp, 'app');
      const [command, ...args] = [...words.slice(0, -1), appDir];
      expect(command).toBe('pnpm');
      try {
        await run(command!, args, { cwd: repoRoot(), timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string; message: string };
        throw new Error(
          `the Dockerfile's deploy step failed (pnpm must be on PATH; the app built): ${command} ${args.join(' ')}\n${e.stdout ?? ''}${e.stderr ?? e.message}`,
        );
      }

      // Runtime stage: COPY --from=build into WORKDIR, then ENV.
      const runtimeWorkdir = workdirOf('runtime');
      for (const copy of runtime.filter((i) => i.keyword === 'COPY')) {
        const [from, ...rest] = copy.args.split(/\s+/).filter((w) => !w.startsWith('--chown'));
        expect(from).toBe('--from=build');
        const [source, destination] = rest as [string, string];
        const target = join(
          appDir,
          posix.relative(runtimeWorkdir, posix.resolve(runtimeWorkdir, destination)),
        );
        if (posix.resolve(source) === posix.resolve(outDir)) expect(target).toBe(appDir);
        else if (source.startsWith(`${buildWorkdir}/`))
          cpSync(join(repoRoot(), posix.relative(buildWorkdir, source)), target);
        else throw new Error(`this test cannot emulate COPY ${copy.args}; teach it how`);
      }
      const imageEnv = Object.fromEntries(
        runtime
          .filter((i) => i.keyword === 'ENV')
          .flatMap((i) => shellWords(i.args, { SERVICE: service }))
          .map((w) => w.split(/=(.*)/s).slice(0, 2) as [string, string]),
      );
      expect(imageEnv.SERVICE).toBe(service);

      // Keys as compose provides them: from the generator, through NAME_FILE.
      const keys = join(tmp, 'keys');
      await generateKeys(keys);
      const port = await freePort();
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...imageEnv,
        HOST: '127.0.0.1', // the image's 0.0.0.0, narrowed on a shared test machine
        PORT: String(port),
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT_MS: '10000',
        REDIS_URL: ctx.infra.redisUrl,
        KEY_PREFIX: ctx.prefix,
        MONGO_URL: ctx.mongoUrl,
        MONGO_DB: ctx.dbName,
        INTERNAL_AUTH_PRIVATE_KEY_FILE: join(keys, service, 'private-key'),
        INTERNAL_AUTH_PUBLIC_KEYS_FILE: join(keys, service, 'public-keys'),
        TOKEN_MASTER_KEY: randomBytes(32).toString('hex'), // vault's key-encryption key
      };

      const cmd = JSON.parse(runtime.find((i) => i.keyword === 'CMD')!.args) as string[];
      const [bin, ...cmdArgs] = cmd;
      expect(bin).toBe('node');
      const child = spawn(process.execPath, cmdArgs, { cwd: appDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      server = child;
      let output = '';
      const collect = (chunk: Buffer) => {
        output += chunk.toString();
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

      const earlyExit = exited.then(() => {
        throw new Error(`the deployed ${service} exited before it was ready:\n${output}`);
      });
      earlyExit.catch(() => undefined);
      await Promise.race([
        earlyExit,
        waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200, {
          what: `deployed ${service} ready`,
          timeoutMs: 30_000,
        }),
      ]);

      const health = runtime.find((i) => i.keyword === 'HEALTHCHECK')!.args;
      const probe = JSON.parse(health.slice(health.indexOf('CMD ') + 4)) as string[];
      expect(probe[0]).toBe('node');
      await expect(
        run(process.execPath, probe.slice(1), {
          cwd: appDir,
          env: { ...env, PORT: String(port) },
          timeout: 10_000,
        }),
      ).resolves.toBeDefined();

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('"msg":"stopped"');
    }, 240_000);
  });
});

describe('requiredVariablesIn', () => {
  it('reads the variable names from a ConfigError message', () => {
    const output =
      'svc: invalid configuration (2 problems):\n  - REDIS_URL is required but not set (x)\n  - PORT is malformed: y\n  - MONGO_URL is required but not set\n';
    expect(requiredVariablesIn(output)).toEqual(['MONGO_URL', 'REDIS_URL']);
  });
});

describe('shellWords', () => {
  it('splits like sh for simple commands and refuses what it cannot emulate', () => {
    expect(
      shellWords(`pnpm --filter="@wapi/\${SERVICE}" deploy 'a b' $X`, { SERVICE: 'vault', X: 'y' }),
    ).toEqual(['pnpm', '--filter=@wapi/vault', 'deploy', 'a b', 'y']);
    expect(() => shellWords('a && b', {})).toThrow(/beyond a simple command/);
    expect(() => shellWords('echo $NOPE', {})).toThrow(/no value for \$NOPE/);
  });
});
