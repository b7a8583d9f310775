import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { locateMetaSandbox, sandboxFixture, startMetaSandbox } from '../src/meta-sandbox';

// testkit cannot list @wapi/meta-sandbox (the sandbox's own tests use testkit), so the real
// start/stop/control round trip is proven by packages/meta-client/test/client.test.ts, which
// does. Here: the seed builder, and every way a start can fail, with small packages laid out
// on disk the way pnpm lays out a devDependency.

const scratch = mkdtempSync(join(tmpdir(), 'testkit-meta-sandbox-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A consuming package whose node_modules holds a "@wapi/meta-sandbox" with `serverJs` (if any) as its dist. */
function consumer(name: string, serverJs?: string): string {
  const dir = join(scratch, name);
  const sandbox = join(dir, 'node_modules', '@wapi', 'meta-sandbox');
  mkdirSync(sandbox, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `@fixture/${name}` }));
  writeFileSync(
    join(sandbox, 'package.json'),
    JSON.stringify({ name: '@wapi/meta-sandbox', type: 'module' }),
  );
  if (serverJs !== undefined) {
    mkdirSync(join(sandbox, 'dist'));
    writeFileSync(join(sandbox, 'dist', 'server.js'), serverJs);
  }
  return dir;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('sandboxFixture', () => {
  it('defaults to one app with a secret, one WABA with one registered number, one token, one approved template', () => {
    const world = sandboxFixture();
    expect(world.seed).toEqual({
      apps: [{ id: world.appId, secret: world.appSecret }],
      wabas: [
        {
          id: world.wabaId,
          name: 'Lucky Shrub WABA',
          subscribedApps: [world.appId],
          phoneNumbers: [
            { id: world.phoneNumberId, display: world.displayPhoneNumber, verifiedName: 'Lucky Shrub' },
          ],
        },
      ],
      tokens: [{ value: world.accessToken, appId: world.appId }],
      customers: [],
      templates: [
        {
          wabaId: world.wabaId,
          name: 'hello_world',
          language: 'en_US',
          category: 'UTILITY',
          components: [{ type: 'BODY', text: 'Hello from Lucky Shrub.' }],
        },
      ],
    });
    expect(world.appSecret.length).toBeGreaterThanOrEqual(8);
  });

  it('applies overrides everywhere they belong and appends more numbers and templates to the WABA', () => {
    const world = sandboxFixture({
      appId: '111',
      appSecret: 'other-secret',
      callbackUrl: 'http://127.0.0.1:1/webhook',
      verifyToken: 'vt',
      wabaId: '222',
      phoneNumberId: '333',
      displayPhoneNumber: '+15550000001',
      throughputMps: 1,
      accessToken: 'EAAother-token',
      template: { name: 'promo', category: 'MARKETING', status: 'PAUSED' },
      morePhoneNumbers: [{ id: '334', display: '15550000002', registered: false }],
      moreTemplates: [{ name: 'otp', language: 'en', category: 'AUTHENTICATION', components: [] }],
      customers: [{ waId: '16505551234', online: false }],
    });
    expect(world).toMatchObject({
      templateName: 'promo',
      templateLanguage: 'en_US',
      displayPhoneNumber: '15550000001',
    });
    expect(world.seed.apps).toEqual([
      { id: '111', secret: 'other-secret', callbackUrl: 'http://127.0.0.1:1/webhook', verifyToken: 'vt' },
    ]);
    expect(world.seed.wabas?.[0]).toMatchObject({
      id: '222',
      subscribedApps: ['111'],
      phoneNumbers: [
        { id: '333', display: '15550000001', throughputMps: 1 },
        { id: '334', registered: false },
      ],
    });
    expect(world.seed.tokens).toEqual([{ value: 'EAAother-token', appId: '111' }]);
    expect(world.seed.templates?.map((t) => [t.wabaId, t.name, t.status])).toEqual([
      ['222', 'promo', 'PAUSED'],
      ['222', 'otp', undefined],
    ]);
    expect(world.seed.customers).toEqual([{ waId: '16505551234', online: false }]);
  });
});

describe('startMetaSandbox: failures say what to do', () => {
  const redisUrl = 'redis://127.0.0.1:1';

  it('names the devDependency to add when the calling package does not list @wapi/meta-sandbox', async () => {
    const bare = join(scratch, 'bare');
    mkdirSync(bare);
    await expect(startMetaSandbox({ redisUrl, from: bare })).rejects.toThrow(
      `cannot resolve @wapi/meta-sandbox from ${bare}; add "@wapi/meta-sandbox": "workspace:*" to that package's devDependencies`,
    );
  });

  it('says to build the sandbox when its dist is missing', () => {
    const dir = consumer('unbuilt');
    expect(() => locateMetaSandbox(dir)).toThrow(
      /meta-sandbox is not built \(no .*unbuilt\/node_modules\/@wapi\/meta-sandbox\/dist\/server\.js\); run `pnpm --filter @wapi\/meta-sandbox build`/,
    );
  });

  it('resolves dist/server.js from the calling package', () => {
    const dir = consumer('built', '');
    expect(locateMetaSandbox(dir)).toBe(join(dir, 'node_modules/@wapi/meta-sandbox/dist/server.js'));
  });

  it('refuses PORT and SANDBOX_SEED_FILE in env, which the helper owns', async () => {
    const from = consumer('owned-env', '');
    for (const name of ['PORT', 'SANDBOX_SEED_FILE'])
      await expect(startMetaSandbox({ redisUrl, from, env: { [name]: '1' } })).rejects.toThrow(
        `do not set ${name} in env`,
      );
  });

  it('reports a process that exits at start with its output, and removes its seed file', async () => {
    // Like the real sandbox given a bad seed: it says why on stderr and exits 1.
    const from = consumer(
      'crashing',
      "console.error('SANDBOX_SEED_FILE', process.env.SANDBOX_SEED_FILE, 'is invalid at /apps'); process.exit(1);\n",
    );
    const failure = await startMetaSandbox({ redisUrl, from }).catch((e: Error) => e);
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toMatch(
      /the sandbox exited before it was ready; .*Its output:\nSANDBOX_SEED_FILE \S+ is invalid at \/apps/s,
    );
    const seedFile = /SANDBOX_SEED_FILE (\S+) is invalid/.exec(message)?.[1] ?? '';
    expect(seedFile).toMatch(/seed\.json$/);
    expect(existsSync(seedFile)).toBe(false);
  });

  it('kills a process that never gets ready, so a failed start leaks nothing', async () => {
    const record = join(scratch, 'hung.json');
    const from = consumer(
      'hung',
      `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(record)}, JSON.stringify({ pid: process.pid, seed: process.env.SANDBOX_SEED_FILE }));
setInterval(() => {}, 1000);
`,
    );
    await expect(startMetaSandbox({ redisUrl, from, startTimeoutMs: 1_500 })).rejects.toThrow(
      /timed out after 1500 ms waiting for meta-sandbox \/health\/ready/,
    );
    const { pid, seed } = JSON.parse(readFileSync(record, 'utf8')) as { pid: number; seed: string };
    expect(alive(pid)).toBe(false);
    expect(existsSync(seed)).toBe(false);
  });
});
