import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createMongoClient } from '@wapi/store';
import { freePort, infraDir, killNow, waitFor } from '@wapi/testkit';

const run = promisify(execFile);

/** A FerretDB of the test's own, which the test may stop and start (outage tests). */
export interface PrivateFerret {
  /** `mongodb://127.0.0.1:<port>/` */
  readonly url: string;
  /** SIGKILL: the data is in PostgreSQL, so nothing acknowledged is lost. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops for good, drops its PostgreSQL database and removes its state folder. */
  dispose(): Promise<void>;
}

/**
 * A private FerretDB process on a free port, against the shared PostgreSQL that
 * `infra/infra.sh` runs but in a PostgreSQL database of its own, so stopping it never
 * touches the shared FerretDB other tests use. Same binary and flags as infra.sh.
 */
export async function startPrivateFerret(): Promise<PrivateFerret> {
  const bin = join(process.env.WAPI_CACHE_DIR ?? join(homedir(), '.cache', 'wapi'), 'bin', 'ferretdb');
  const portFile = join(infraDir(), 'run', 'postgres.port');
  if (!existsSync(bin) || !existsSync(portFile))
    throw new Error(
      `a private FerretDB needs ${bin} and a running PostgreSQL (${portFile}); run bash infra/infra.sh start`,
    );
  const pgPort = readFileSync(portFile, 'utf8').trim();
  const pgDb = `wh_ferret_${randomBytes(4).toString('hex')}`;
  const pg = ['-h', '127.0.0.1', '-p', pgPort, '-U', 'postgres'];
  await run('createdb', [...pg, pgDb], { timeout: 20_000 });
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'wapi-ferret-'));
  const url = `mongodb://127.0.0.1:${port}/`;
  let child: ChildProcess | undefined;
  let output = '';

  const answers = async () => {
    const client = createMongoClient(url, 'ferret-probe', { serverSelectionTimeoutMS: 500 });
    try {
      await client.db('admin').command({ ping: 1 });
      return true;
    } catch {
      return false;
    } finally {
      await client.close().catch(() => undefined);
    }
  };

  async function start() {
    child = spawn(
      bin,
      [
        '--handler=postgresql',
        `--postgresql-url=postgres://postgres@127.0.0.1:${pgPort}/${pgDb}`,
        `--state-dir=${stateDir}`,
        `--listen-addr=127.0.0.1:${port}`,
        '--telemetry=disable',
        '--debug-addr=-',
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d) => {
      output = (output + String(d)).slice(-4_000);
    });
    child.stderr?.on('data', (d) => {
      output = (output + String(d)).slice(-4_000);
    });
    child.on('error', () => undefined);
    await waitFor(answers, {
      timeoutMs: 20_000,
      what: `private FerretDB on port ${port} (output: ${output})`,
    });
  }

  async function stop() {
    const current = child;
    child = undefined;
    await killNow(current);
  }

  try {
    await start();
  } catch (error) {
    await stop();
    await run('dropdb', [...pg, '--force', pgDb], { timeout: 20_000 }).catch(() => undefined);
    throw error;
  }
  return {
    url,
    stop,
    start,
    async dispose() {
      await stop();
      await run('dropdb', [...pg, '--force', pgDb], { timeout: 20_000 }).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
