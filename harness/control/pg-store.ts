/**
 * The `postgresql` reservation store: Kea's own host database (schema from `kea-admin db-init
 * pgsql`). One reservation is a `hosts` row (identifier = the 6 MAC bytes, type 0 = hw-address, in
 * the pod's subnet) and one `ipv6_reservations` row per prefix (type 2 = IA_PD). Every put/remove
 * is one transaction, and Kea queries these tables on every packet, so a committed reservation is
 * served at once with no reload (and Kea's allocator is left alone).
 *
 * Quarantine records live beside Kea's tables in a table of v6pod's own (Kea ignores it), so a
 * removal and its quarantine commit together.
 */
import pg from 'pg';
import type { PgTarget } from './kea-database.ts';
import {
  canonicalReservations,
  mergeReservations,
  type Quarantined,
  type QuarantineOptions,
  type Reservation,
  type ReservationStore,
} from './reservation-store.ts';
import { formatMac, parseMac } from '../addr/mac.ts';
import { macToBytes } from '../addr/bytes.ts';
import { Prefix } from '../addr/prefix.ts';

/** Kea's host identifier type for hw-address (table host_identifier_type). */
const HW_ADDRESS = 0;
/** Kea's ipv6_reservations.type for a delegated prefix (0 is an IA_NA address). */
const TYPE_PD = 2;
/**
 * Writers take this transaction-scoped advisory lock first, so two processes deploying at once
 * cannot both pass the "prefix reserved to another MAC" check: the schema's (address, prefix_len)
 * index is not unique, as Kea allows shared reservations.
 */
const WRITE_LOCK = 0x76_36_70_6f_64; // "v6pod"
const QUARANTINE_TABLE = `CREATE TABLE IF NOT EXISTS v6pod_quarantine (
  address VARCHAR(39) NOT NULL,
  prefix_len SMALLINT NOT NULL,
  until_ms BIGINT NOT NULL,
  PRIMARY KEY (address, prefix_len)
)`;

export interface PgStoreOptions {
  /** The pod subnet's id in Kea's config (subnet6[].id): Kea looks hosts up by subnet. */
  subnetId: number;
}

/** How often Kea retries a lost connection to the host database, and how long it waits between tries. */
export const KEA_DB_RECONNECT = { tries: 1_000_000, waitMs: 250 } as const;

/**
 * The `hosts-database` entry that points Kea at this store's database. Kea's defaults never
 * reconnect (max-reconnect-tries 0): a PostgreSQL restart made Kea exit at the next packet. Here it
 * keeps serving while it retries (packets needing a host lookup fail until the database is back).
 */
export function keaHostsDatabase(target: PgTarget): Record<string, string | number> {
  return {
    type: 'postgresql',
    name: target.database,
    user: target.user,
    // A host starting with '/' is a unix socket directory to libpq, as to node-postgres.
    host: target.host,
    ...(target.port ? { port: target.port } : {}),
    ...(target.password ? { password: target.password } : {}),
    'max-reconnect-tries': KEA_DB_RECONNECT.tries,
    'reconnect-wait-time': KEA_DB_RECONNECT.waitMs,
    'on-fail': 'serve-retry-continue',
  };
}

/**
 * True when `err` says the database cannot be reached or went away (refused, socket gone, the
 * server shutting down or restarting, the connection cut mid-query), as opposed to an error in what
 * was asked of it.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  // 08xxx: connection exception; 57P0x: the server shutting down or not yet accepting (SQLSTATE classes).
  if (/^(ECONNREFUSED|ENOENT|ECONNRESET|EPIPE|08...|57P0.)$/.test(code)) return true;
  return /Connection terminated|not queryable|terminating connection/.test(typeof e?.message === 'string' ? e.message : '');
}

export class PgStore implements ReservationStore {
  readonly kind = 'postgresql' as const;
  /** One connection, one transaction at a time: this process's writes queue here. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly client: pg.Client,
    private readonly subnetId: number,
  ) {}

  static async connect(target: PgTarget, opts: PgStoreOptions): Promise<PgStore> {
    const client = new pg.Client(target);
    // The server going away between queries is reported as an 'error' event, which unheard would
    // end the process; heard, the next query fails ("not queryable") and the caller reports it.
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query(QUARANTINE_TABLE);
    } catch (err) {
      await client.end();
      throw err;
    }
    return new PgStore(client, opts.subnetId);
  }

  list(): Promise<Reservation[]> {
    return this.serialized(() => this.read(this.client));
  }

  put(reservations: readonly Reservation[]): Promise<void> {
    const batch = mergeReservations([], canonicalReservations(reservations));
    if (!batch.length) return Promise.resolve();
    return this.transaction(async (c) => {
      const macs = batch.map((r) => macToBytes(r.mac));
      const rows = batch.flatMap((r) => r.prefixes.map((p) => ({ mac: r.mac, prefix: Prefix.parse(p) })));
      const taken = await c.query<{ mac: Buffer; address: string; prefix_len: number }>(
        `SELECT h.dhcp_identifier AS mac, r.address, r.prefix_len
           FROM ipv6_reservations r JOIN hosts h ON h.host_id = r.host_id
          WHERE h.dhcp_identifier_type = $1 AND h.dhcp6_subnet_id = $2 AND r.type = $3
            AND NOT (h.dhcp_identifier = ANY($4::bytea[]))
            AND (r.address, r.prefix_len) IN (SELECT * FROM unnest($5::varchar[], $6::smallint[]))`,
        [HW_ADDRESS, this.subnetId, TYPE_PD, macs, rows.map((r) => r.prefix.address()), rows.map((r) => r.prefix.length)],
      );
      const clash = taken.rows[0];
      if (clash) {
        const prefix = `${clash.address}/${clash.prefix_len}`;
        throw new Error(`${Prefix.parse(prefix)} is reserved to ${formatMac(clash.mac)} already`);
      }
      await this.deleteHosts(c, macs);
      const hosts = await c.query<{ host_id: number; mac: Buffer }>(
        `INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp6_subnet_id)
         SELECT unnest($1::bytea[]), $2, $3 RETURNING host_id, dhcp_identifier AS mac`,
        [macs, HW_ADDRESS, this.subnetId],
      );
      const hostOf = new Map(hosts.rows.map((h) => [formatMac(h.mac), h.host_id]));
      await c.query(
        `INSERT INTO ipv6_reservations (address, prefix_len, type, host_id)
         SELECT a, l, $3, h FROM unnest($1::varchar[], $2::smallint[], $4::int[]) AS t(a, l, h)`,
        [rows.map((r) => r.prefix.address()), rows.map((r) => r.prefix.length), TYPE_PD, rows.map((r) => hostOf.get(r.mac)!)],
      );
      await c.query('DELETE FROM v6pod_quarantine WHERE (address, prefix_len) IN (SELECT * FROM unnest($1::varchar[], $2::smallint[]))', [
        rows.map((r) => r.prefix.address()),
        rows.map((r) => r.prefix.length),
      ]);
    });
  }

  quarantined(): Promise<Quarantined[]> {
    return this.serialized(async () => {
      const result = await this.client.query<{ address: string; prefix_len: number; until_ms: string }>(
        'SELECT address, prefix_len, until_ms FROM v6pod_quarantine ORDER BY address, prefix_len',
      );
      return result.rows.map((r) => ({ prefix: Prefix.parse(`${r.address}/${r.prefix_len}`).toString(), until: Number(r.until_ms) }));
    });
  }

  remove(macs: readonly string[], quarantine?: QuarantineOptions): Promise<void> {
    const bytes = macs.map((m) => macToBytes(parseMac(m)));
    return this.transaction(async (c) => {
      if (quarantine) {
        // A prefix released twice keeps the later end (ON CONFLICT ... GREATEST).
        await c.query(
          `INSERT INTO v6pod_quarantine (address, prefix_len, until_ms)
           SELECT r.address, r.prefix_len, $4 FROM ipv6_reservations r JOIN hosts h ON h.host_id = r.host_id
            WHERE h.dhcp_identifier_type = $1 AND h.dhcp6_subnet_id = $2 AND r.type = $5 AND h.dhcp_identifier = ANY($3::bytea[])
           ON CONFLICT (address, prefix_len) DO UPDATE SET until_ms = GREATEST(v6pod_quarantine.until_ms, EXCLUDED.until_ms)`,
          [HW_ADDRESS, this.subnetId, bytes, quarantine.until, TYPE_PD],
        );
        await c.query('DELETE FROM v6pod_quarantine WHERE until_ms <= $1', [quarantine.now]);
      }
      if (bytes.length) await this.deleteHosts(c, bytes);
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.client.end();
  }

  private async read(c: pg.ClientBase): Promise<Reservation[]> {
    const result = await c.query<{ mac: Buffer; address: string | null; prefix_len: number | null }>(
      `SELECT h.dhcp_identifier AS mac, r.address, r.prefix_len
         FROM hosts h LEFT JOIN ipv6_reservations r ON r.host_id = h.host_id AND r.type = $3
        WHERE h.dhcp_identifier_type = $1 AND h.dhcp6_subnet_id = $2
        ORDER BY h.dhcp_identifier, r.reservation_id`,
      [HW_ADDRESS, this.subnetId, TYPE_PD],
    );
    const byMac = new Map<string, Reservation>();
    for (const row of result.rows) {
      const mac = formatMac(row.mac);
      let r = byMac.get(mac);
      if (!r) byMac.set(mac, (r = { mac, prefixes: [] }));
      if (row.address !== null) r.prefixes.push(Prefix.parse(`${row.address}/${row.prefix_len}`).toString());
    }
    return [...byMac.values()];
  }

  /** ipv6_reservations rows go with their host (ON DELETE CASCADE). */
  private async deleteHosts(c: pg.ClientBase, macs: Buffer[]): Promise<void> {
    await c.query('DELETE FROM hosts WHERE dhcp_identifier_type = $1 AND dhcp6_subnet_id = $2 AND dhcp_identifier = ANY($3::bytea[])', [
      HW_ADDRESS,
      this.subnetId,
      macs,
    ]);
  }

  private transaction(body: (c: pg.ClientBase) => Promise<void>): Promise<void> {
    return this.serialized(async () => {
      await this.client.query('BEGIN');
      try {
        await this.client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK]);
        await body(this.client);
        await this.client.query('COMMIT');
      } catch (err) {
        await this.client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  private serialized<T>(step: () => Promise<T>): Promise<T> {
    const result = this.queue.then(step, step);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
