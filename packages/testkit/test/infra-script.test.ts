// infra/infra.sh against a private state dir (never the shared .infra): idempotent start,
// hands off what it did not start, and FerretDB really runs on PostgreSQL.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvFile, repoRoot } from '../src/infra';
import { freePort } from '../src/ports';

const run = promisify(execFile);
const script = join(repoRoot(), 'infra', 'infra.sh');
const components = ['redis', 'postgres', 'ferretdb', 'moto'] as const;

let dir = '';
let env: NodeJS.ProcessEnv = {};
const decoys: ChildProcess[] = [];

async function infra(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('bash', [script, ...args], { env, timeout: 180_000, maxBuffer: 4 * 1024 * 1024 });
}

async function recorded(): Promise<Record<string, { pid: number; port: number }>> {
  const out: Record<string, { pid: number; port: number }> = {};
  for (const c of components) {
    out[c] = {
      pid: Number(await readFile(join(dir, 'run', `${c}.pid`), 'utf8')),
      port: Number(await readFile(join(dir, 'run', `${c}.port`), 'utf8')),
    };
  }
  return out;
}

/** Running, not a zombie (PID 1 in this container does not always reap orphans). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== '' && state !== 'Z' && state !== 'X';
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket.destroy() !== undefined));
    socket.once('error', () => resolve(false));
  });
}

/** A node process we own, started with `argv0` and answering "ready" once set up. */
function startDecoy(code: string, argv0: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', code], {
    argv0,
    cwd: tmpdir(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  decoys.push(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', () => resolve(child));
  });
}

let portDecoy: ChildProcess;
let portDecoyPort = 0;
let pidDecoy: ChildProcess;
let first: Record<string, { pid: number; port: number }> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wapi-infra-script-'));
  // mkdtemp makes it 0700; the cluster inside runs as the postgres OS user, who must get in.
  await chmod(dir, 0o755);
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [redisPort, pgPort, mongoPort, motoPort] = [...ports] as [number, number, number, number];
  portDecoyPort = redisPort;
  // Holds the port Redis is asked to use: start must pick another one and leave this alone.
  portDecoy = await startDecoy(
    `require('node:net').createServer((s) => s.destroy()).listen(${redisPort}, '127.0.0.1', () => console.log('ready'))`,
    'node',
  );
  // Looks like our FerretDB in `ps` and sits in the pid file, but runs elsewhere: a stale pid
  // file whose pid was reused. start must not take it for ours, stop must not kill it.
  pidDecoy = await startDecoy(
    `setInterval(() => {}, 60_000); console.log('ready')`,
    'ferretdb --handler=postgresql',
  );
  await mkdir(join(dir, 'run'));
  await writeFile(join(dir, 'run', 'ferretdb.pid'), `${pidDecoy.pid}\n`);
  env = {
    ...process.env,
    WAPI_INFRA_DIR: dir,
    WAPI_REDIS_PORT: String(redisPort),
    WAPI_POSTGRES_PORT: String(pgPort),
    WAPI_MONGO_PORT: String(mongoPort),
    WAPI_MOTO_PORT: String(motoPort),
  };
}, 30_000);

afterAll(async () => {
  if (dir) await infra('stop').catch(() => undefined);
  for (const d of decoys) d.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('infra/infra.sh with a private WAPI_INFRA_DIR', () => {
  it('starts everything and leaves the port holder and the pid-file decoy alone', async () => {
    const { stderr } = await infra('start');
    first = await recorded();
    expect(first.redis!.port).not.toBe(portDecoyPort);
    expect(stderr).toContain(`port ${portDecoyPort} on 127.0.0.1 is in use by another program`);
    expect(first.ferretdb!.pid).not.toBe(pidDecoy.pid);
    expect(await alive(pidDecoy.pid!)).toBe(true);
    expect(await alive(portDecoy.pid!)).toBe(true);
    expect(await accepts(portDecoyPort)).toBe(true);
    for (const c of components) expect(await alive(first[c]!.pid), c).toBe(true);
    const written = parseEnvFile(await readFile(join(dir, 'env'), 'utf8'));
    expect(written.WAPI_MONGO_URL).toBe(`mongodb://127.0.0.1:${first.ferretdb!.port}/`);
    expect(written.WAPI_REDIS_URL).toBe(`redis://127.0.0.1:${first.redis!.port}`);
  }, 180_000);

  it('reuses every server on a second start: same pids, same ports, same env file', async () => {
    const envBefore = await readFile(join(dir, 'env'), 'utf8');
    const { stderr } = await infra('start');
    expect(await recorded()).toEqual(first);
    expect(stderr.match(/ reused /g)).toHaveLength(4);
    expect(await readFile(join(dir, 'env'), 'utf8')).toBe(envBefore);
    const { stdout } = await infra('status');
    expect(stdout).toMatch(/postgres +running +answering/);
  }, 60_000);

  it('runs FerretDB on PostgreSQL: 100 concurrent conditional $push updates all land, a 200-update bulkWrite completes', async () => {
    const url = parseEnvFile(await readFile(join(dir, 'env'), 'utf8')).WAPI_MONGO_URL!;
    const client = new MongoClient(url, { maxPoolSize: 60 });
    try {
      const coll = client
        .db('infra_script_test')
        .collection<{ _id: string; n: number; items: number[] }>('c');
      await coll.insertOne({ _id: 'burst', n: 0, items: [] });
      const plan = await coll.find({ _id: 'burst' }).explain();
      // FerretDB passes PostgreSQL's EXPLAIN through; its SQLite backend answers differently.
      expect(plan.queryPlanner).toHaveProperty(['Plan', 'Node Type']);
      // On SQLite this burst failed with SQLITE_BUSY.
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          coll.updateOne({ _id: 'burst', n: { $lt: 1000 } }, { $push: { items: i }, $inc: { n: 1 } }),
        ),
      );
      expect(results.every((r) => r.modifiedCount === 1)).toBe(true);
      // Stock v1.24.2 acknowledged all 100 and kept about 15 (read-modify-write without a lock).
      const doc = await coll.findOne({ _id: 'burst' });
      expect(doc?.n).toBe(100);
      expect([...(doc?.items ?? [])].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      // More statements in one update command than FerretDB's 50 PostgreSQL connections: the
      // unpatched v1.24.2 held one connection per statement and hung here forever.
      await coll.insertMany(Array.from({ length: 200 }, (_, i) => ({ _id: `d${i}`, n: 0, items: [] })));
      const bulk = await coll.bulkWrite(
        Array.from({ length: 200 }, (_, i) => ({
          updateOne: { filter: { _id: `d${i}` }, update: { $inc: { n: 1 } } },
        })),
      );
      expect(bulk.modifiedCount).toBe(200);
      await client.db('infra_script_test').dropDatabase();
    } finally {
      await client.close();
    }
  }, 60_000);

  it('stop ends exactly the servers it started', async () => {
    await infra('stop');
    for (const c of components) expect(await alive(first[c]!.pid), c).toBe(false);
    expect(await alive(pidDecoy.pid!)).toBe(true);
    expect(await alive(portDecoy.pid!)).toBe(true);
    expect(await accepts(portDecoyPort)).toBe(true);
  }, 60_000);
});
