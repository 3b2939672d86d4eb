/**
 * PgBouncer in front of the run's private PostgreSQL cluster, for v6pod's own control sessions
 * (`vm deploy`, `vm destroy`, `up`'s reservations). Every such command is a new process and so a
 * new session; a session straight to PostgreSQL forks and initialises a backend (~40 ms of CPU
 * here, docs/facts.md), while through the pooler it reuses a server connection kept open. Kea keeps
 * its own long-lived connection to the cluster and does not go through it.
 *
 * Session pooling (a client holds its server connection until it disconnects, then
 * `DISCARD ALL` resets it): PgStore's transactions and locks behave as on a direct connection.
 * Unix socket only, in a directory of the cluster's (mode 0700, the postgres OS user's), `auth_type
 * any` with the role fixed per database: only root and postgres can reach it, as the cluster itself.
 */
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import type { DaemonRecord } from '../run-state.ts';
import type { PgTarget } from '../../harness/control/kea-database.ts';
import { pgClient } from '../../harness/control/pg-client.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { assertAlive, startDaemon } from './process.ts';
import { osUserIds, PG_OS_USER, type PgCluster } from './postgres.ts';

/** The port only names the socket file (`.s.PGSQL.6432`): nothing listens on TCP. */
const POOLER_PORT = 6432;

export function poolerPaths(cluster: PgCluster) {
  return { config: `${cluster.dir}/pgbouncer.ini`, socketDir: `${cluster.dir}/pooler`, log: `${cluster.dir}/pgbouncer.log` };
}

export function pgbouncerConfig(cluster: PgCluster): string {
  const p = poolerPaths(cluster);
  const t = cluster.target;
  return [
    '; v6pod: the run cluster pooler for control sessions (netns/daemons/pgbouncer.ts)',
    '[databases]',
    `${t.database} = host=${t.host} dbname=${t.database} user=${t.user}`,
    '[pgbouncer]',
    // No listen_addr: the unix socket only.
    `listen_port = ${POOLER_PORT}`,
    `unix_socket_dir = ${p.socketDir}`,
    'auth_type = any',
    'pool_mode = session',
    // A couple of commands at once at most; connections kept (0 idle timeout: never closed for idleness; a
    // server_lifetime of 0 would use each one once).
    'default_pool_size = 4',
    'server_idle_timeout = 0',
    'server_lifetime = 86400',
    // node-postgres and libpq clients may send these; pgbouncer refuses unknown startup parameters.
    'ignore_startup_parameters = extra_float_digits,options',
    // With the server down a command fails within seconds (naming PostgreSQL), not after pgbouncer's 120 s (a quick restart is ridden out).
    'query_wait_timeout = 5',
    // After the server restarts, a new login is tried within half a second (pgbouncer's default
    // holds every client off for 15 s after one failed login).
    'server_login_retry = 0.5',
    '',
  ].join('\n');
}

/** Where a session reaches Kea's database through the pooler: derived from the cluster, nothing to record. */
export function poolerTarget(cluster: PgCluster): PgTarget {
  return { ...cluster.target, host: poolerPaths(cluster).socketDir, port: POOLER_PORT };
}

/**
 * Starts the pooler in `ns` (any namespace of the run: it serves a unix socket) as the postgres OS
 * user (pgbouncer refuses root). Returns as soon as it runs, for the caller to record it; then
 * `poolerAnswers` waits for a session through it.
 */
export async function startPgBouncer(cluster: PgCluster, node: string, ns: string): Promise<DaemonRecord> {
  const p = poolerPaths(cluster);
  const { uid, gid } = osUserIds(PG_OS_USER);
  mkdirSync(p.socketDir, { recursive: true, mode: 0o700 });
  chownSync(p.socketDir, uid, gid);
  writeFileSync(p.config, pgbouncerConfig(cluster));
  const argv = ['/usr/sbin/pgbouncer', p.config];
  // setpriv execs pgbouncer in place (no parent left), so the recorded PID is the pooler's.
  return startDaemon({
    name: 'pgbouncer',
    node,
    ns,
    argv,
    log: p.log,
    launch: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--', ...argv],
  });
}

/** Resolves once a session through the pooler answers; fails at once (naming its log) if it exits. */
export async function poolerAnswers(record: DaemonRecord, target: PgTarget): Promise<void> {
  await waitUntil(
    async () => {
      assertAlive(record);
      const client = await pgClient(target);
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      } finally {
        void client.end().catch(() => undefined);
      }
    },
    { timeoutMs: 15_000, what: `pgbouncer to answer on ${target.host} (log ${record.log})` },
  );
}
