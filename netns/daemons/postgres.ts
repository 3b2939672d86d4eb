/**
 * PostgreSQL for Kea's host database: either a private cluster in a directory of the run's (initdb
 * as the `postgres` OS user, unix socket only in its own socket directory, started with pg_ctl,
 * stopped through its pidfile) or a server the user names. Either way Kea's schema comes from
 * `kea-admin db-init pgsql`, so the tables are exactly the ones Kea reads.
 */
import { appendFileSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { pgClient } from '../../harness/control/pg-client.ts';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { processAlive, type DaemonRecord } from '../run-state.ts';
import { ensureKeaSchema, type PgTarget } from '../../harness/control/kea-database.ts';

export interface PgCluster {
  dir: string;
  data: string;
  socketDir: string;
  log: string;
  /** Kea's database in this cluster. */
  target: PgTarget;
}

/** The OS user the server (and its pooler) run as: both refuse root. */
export const PG_OS_USER = 'postgres';
/** Role and database Kea uses in a private cluster. */
const KEA_ROLE = 'kea';
const KEA_DATABASE = 'kea';

export function clusterPaths(dir: string) {
  return { dir, data: `${dir}/data`, socketDir: `${dir}/sock`, log: `${dir}/postgres.log` };
}

/** The private cluster in `dir` (started or not) and Kea's database in it. */
export function privateCluster(dir: string): PgCluster {
  const p = clusterPaths(dir);
  return { ...p, target: { host: p.socketDir, user: KEA_ROLE, database: KEA_DATABASE } };
}

export function osUserIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`OS user '${name}' not found: is the postgresql package installed?`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** The cluster's own binaries (Debian keeps them off PATH, under /usr/lib/postgresql/<major>/bin): the newest major. */
function pgBin(tool: string): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = majors.map((m) => `${root}/${m}/bin/${tool}`).find((path) => existsSync(path));
  return found ?? tool;
}

/** Runs a PostgreSQL tool as the postgres OS user: the server refuses to run as root. */
function asPostgres(argv: string[], cwd: string) {
  // `env -C` gives the tool a working directory it can enter (the caller's may be closed to it).
  return run(['runuser', '-u', PG_OS_USER, '--', 'env', '-C', cwd, ...argv]);
}

function postmasterPid(data: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${data}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is this cluster's postmaster (checked by command line: a recycled PID is never signalled). */
function isOurPostmaster(pid: number, data: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.some((a) => a.endsWith('/postgres') || a === 'postgres') && cmd.includes(data);
  } catch {
    return false;
  }
}

export function postgresRunning(dir: string): boolean {
  const { data } = clusterPaths(dir);
  const pid = postmasterPid(data);
  return pid !== undefined && isOurPostmaster(pid, data);
}

/**
 * Starts (creating on first use) a private cluster in `dir`, with Kea's role, database and schema.
 * `dir` must be traversable by the postgres OS user; the cluster listens on no TCP address.
 */
export async function startPostgres(dir: string): Promise<PgCluster> {
  const p = clusterPaths(dir);
  const { uid, gid } = osUserIds(PG_OS_USER);
  for (const d of [p.dir, p.socketDir]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chownSync(d, uid, gid);
  }
  if (!existsSync(`${p.data}/PG_VERSION`)) {
    // Trust on the socket only: the socket directory is the postgres user's (mode 0700), so only
    // root and postgres can reach it; TCP is off altogether.
    await asPostgres([pgBin('initdb'), '-D', p.data, '-U', PG_OS_USER, '-E', 'UTF8', '--auth-local=trust', '--auth-host=reject', '--no-sync'], p.dir);
    appendFileSync(
      `${p.data}/postgresql.conf`,
      [
        '# v6pod: a private cluster reached only through its own socket directory',
        "listen_addresses = ''",
        `unix_socket_directories = '${p.socketDir}'`,
        '',
      ].join('\n'),
    );
  }
  if (!postgresRunning(dir)) {
    await asPostgres([pgBin('pg_ctl'), '-D', p.data, '-l', p.log, '-w', '-t', '30', 'start'], p.dir);
  }
  const cluster = privateCluster(dir);
  await ensureKeaDatabase(cluster);
  await ensureKeaSchema(cluster.target);
  return cluster;
}

async function ensureKeaDatabase(cluster: PgCluster): Promise<void> {
  const admin = await pgClient({ host: cluster.socketDir, user: PG_OS_USER, database: 'postgres' });
  await admin.connect();
  try {
    const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [KEA_ROLE]);
    if (!role.rowCount) await admin.query(`CREATE ROLE ${KEA_ROLE} LOGIN`);
    const db = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [KEA_DATABASE]);
    if (!db.rowCount) await admin.query(`CREATE DATABASE ${KEA_DATABASE} OWNER ${KEA_ROLE}`);
  } finally {
    await admin.end();
  }
}

/**
 * The running postmaster as a run's daemon record, so a run's teardown (or `down --all` after a
 * crash) stops it like Kea and radvd: by PID and exact command line.
 */
export function postgresDaemonRecord(cluster: PgCluster, node: string, ns = ''): DaemonRecord {
  const pid = postmasterPid(cluster.data);
  if (pid === undefined || !isOurPostmaster(pid, cluster.data)) throw new Error(`PostgreSQL in ${cluster.dir} is not running`);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  return { name: 'postgres', node, ns, pid, argv, log: cluster.log };
}

/** Stops the cluster in `dir` through its pidfile: fast shutdown (SIGINT), immediate (SIGQUIT) after the timeout. */
export async function stopPostgres(dir: string, timeoutMs = 10_000): Promise<void> {
  const { data } = clusterPaths(dir);
  const pid = postmasterPid(data);
  if (pid === undefined || !isOurPostmaster(pid, data)) return;
  process.kill(pid, 'SIGINT');
  try {
    await waitUntil(() => !processAlive(pid), { timeoutMs, what: `PostgreSQL (pid ${pid}, ${data}) to stop after SIGINT` });
  } catch {
    if (isOurPostmaster(pid, data)) process.kill(pid, 'SIGQUIT');
    await waitUntil(() => !processAlive(pid), { timeoutMs, what: `PostgreSQL (pid ${pid}, ${data}) to stop after SIGQUIT` });
  }
}

/** Stops the cluster and deletes its directory. */
export async function removePostgres(dir: string): Promise<void> {
  await stopPostgres(dir);
  rmSync(dir, { recursive: true, force: true });
}
