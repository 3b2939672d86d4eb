/**
 * The `postgresql` reservation store: Kea's own host database (schema from `kea-admin db-init
 * pgsql`). One reservation is a `hosts` row (identifier = the 6 MAC bytes, type 0 = hw-address, in
 * the pod's subnet) and one `ipv6_reservations` row per prefix (type 2 = IA_PD). Every put/remove
 * is one transaction, and Kea queries these tables on every packet, so a committed reservation is
 * served at once with no reload (and Kea's allocator is left alone).
 *
 * Quarantine records live beside Kea's tables in a table of v6pod's own (Kea ignores it), so a
 * removal and its quarantine commit together. A record outlives its quarantine: it marks a released
 * prefix nobody holds, which reserveNext() hands out again (lowest first) once the quarantine ended.
 * Where the store contract drops a record (a removal's `now` is past its end) it becomes such a
 * free marker (until 0), which quarantined() does not report.
 *
 * Allocation happens in the database (reserveNext), so a deploy's cost does not grow with the pod:
 * no process lists every reservation to rebuild an allocator. Per pool, a cursor row
 * (v6pod_allocator) says below which index every prefix is either reserved or has a record; the
 * lowest free prefix is then the lowest ended record or the first index from the cursor on that is
 * neither reserved nor quarantined — a few indexed lookups, whatever the number of reservations.
 * Every prefix's record carries its index among all prefixes of its length (idx, NUMERIC), so
 * records order by position and serve any pool. The result is exactly Allocator.fromReserved's
 * lowest free prefix over the same store (tests/control/pg-store.test.ts checks it).
 */
import type pg from 'pg';
import { pgClient } from './pg-client.ts';
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
import { PoolExhaustedError } from './allocator.ts';

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
/**
 * v6pod's own tables, created together (one transaction) when v6pod_allocator is missing; a
 * v6pod_quarantine of an older v6pod gains its idx column here (filled in by reserveNext).
 */
const V6POD_TABLES = `
CREATE TABLE IF NOT EXISTS v6pod_quarantine (
  address VARCHAR(39) NOT NULL,
  prefix_len SMALLINT NOT NULL,
  until_ms BIGINT NOT NULL,
  PRIMARY KEY (address, prefix_len)
);
ALTER TABLE v6pod_quarantine ADD COLUMN IF NOT EXISTS idx NUMERIC(39, 0);
CREATE INDEX IF NOT EXISTS v6pod_quarantine_by_idx ON v6pod_quarantine (prefix_len, idx);
CREATE INDEX IF NOT EXISTS v6pod_quarantine_unindexed ON v6pod_quarantine (address) WHERE idx IS NULL;
CREATE INDEX IF NOT EXISTS v6pod_quarantine_by_until ON v6pod_quarantine (until_ms) WHERE until_ms > 0;
CREATE TABLE IF NOT EXISTS v6pod_allocator (
  subnet_id BIGINT NOT NULL,
  pool VARCHAR(43) NOT NULL,
  prefix_len SMALLINT NOT NULL,
  next_idx BIGINT NOT NULL,
  PRIMARY KEY (subnet_id, pool, prefix_len)
);`;

/** A prefix's index among all prefixes of its length (its network >> (128 - length)): decimal text for NUMERIC. */
export function globalIndex(p: Prefix): string {
  return (p.network >> BigInt(128 - p.length)).toString();
}

/** What reserveNext allocates from: the pool, the delegated length, and the time quarantines are judged by. */
export interface AllocationOptions {
  pool: Prefix | string;
  length: number;
  /** Milliseconds since the epoch (default Date.now()). */
  now?: number;
}

/** How many candidates past the cursor one query checks beyond those wanted (reserved or quarantined ones are skipped). */
const SCAN_SLACK = 16;
/** The largest window one statement checks. */
const MAX_WINDOW = 4096;
/** A write of this many reservations or more refreshes the planner's statistics (a bulk load must not leave plans for an empty table). */
const ANALYZE_AFTER_ROWS = 500;

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
  /** v6pod's tables are known to exist (checked, or created, by the first transaction). */
  private ready = false;

  private constructor(
    private readonly client: pg.Client,
    private readonly subnetId: number,
  ) {}

  static async connect(target: PgTarget, opts: PgStoreOptions): Promise<PgStore> {
    const client = await pgClient(target);
    // The server going away between queries is reported as an 'error' event, which unheard would
    // end the process; heard, the next query fails ("not queryable") and the caller reports it.
    client.on('error', () => undefined);
    await client.connect();
    return new PgStore(client, opts.subnetId);
  }

  list(): Promise<Reservation[]> {
    return this.serialized(() => this.read(this.client));
  }

  /** The reservations of these MACs (absent ones left out), one indexed lookup. */
  find(macs: readonly string[]): Promise<Reservation[]> {
    return this.serialized(() =>
      this.read(
        this.client,
        macs.map((m) => macToBytes(parseMac(m))),
      ),
    );
  }

  put(reservations: readonly Reservation[]): Promise<void> {
    const batch = mergeReservations([], canonicalReservations(reservations));
    if (!batch.length) return Promise.resolve();
    return this.transaction((c) => this.write(c, batch)).then(() => (batch.length >= ANALYZE_AFTER_ROWS ? this.analyze() : undefined));
  }

  /**
   * For each MAC without a reservation, the `count` lowest free prefixes of `opts.pool` (neither
   * reserved nor in quarantine at `opts.now`), reserved in the same transaction; the reservations
   * of all `wanted` MACs (existing ones as they are) in the order asked. All or nothing: on
   * PoolExhaustedError nothing is written. A handful of indexed statements, whatever the number of
   * reservations.
   */
  reserveNext(wanted: ReadonlyArray<{ mac: string; count: number }>, opts: AllocationOptions): Promise<Reservation[]> {
    const asked = wanted.map((w) => ({ mac: parseMac(w.mac), count: w.count }));
    const pool = typeof opts.pool === 'string' ? Prefix.parse(opts.pool) : opts.pool;
    const now = opts.now ?? Date.now();
    const bound = asked.reduce((n, w) => n + Math.max(0, w.count), 0);
    return this.transaction(async (c) => {
      const state = await this.allocationState(
        c,
        pool,
        opts.length,
        bound,
        now,
        asked.map((w) => macToBytes(w.mac)),
      );
      const existing = new Map(state.existing.map((r) => [r.mac, r]));
      const fresh = asked.filter((w, i) => !existing.has(w.mac) && w.count > 0 && asked.findIndex((x) => x.mac === w.mac) === i);
      const made = new Map<string, Reservation>();
      const total = fresh.reduce((n, w) => n + w.count, 0);
      if (total > 0) {
        const { chosen, cursor } = await this.lowestFree(c, pool, opts.length, total, now, state);
        let at = 0;
        for (const w of fresh) {
          made.set(w.mac, { mac: w.mac, prefixes: chosen.slice(at, at + w.count).map(String) });
          at += w.count;
        }
        await this.writeFresh(c, [...made.values()], pool, opts.length, cursor);
      }
      return asked.flatMap((w) => existing.get(w.mac) ?? made.get(w.mac) ?? []);
    }).then(async (result) => {
      if (asked.length >= ANALYZE_AFTER_ROWS) await this.analyze();
      return result;
    });
  }

  /**
   * Refreshes the statistics of the tables deploys look up (autovacuum would, within a minute):
   * with those of a nearly empty table the planner reads every hosts row of the identifier type
   * rather than Kea's unique index. Without ownership PostgreSQL skips a table with a warning.
   */
  private analyze(): Promise<void> {
    return this.serialized(async () => void (await this.client.query('ANALYZE hosts, ipv6_reservations, v6pod_quarantine')));
  }

  /** The `k` prefixes reserveNext would hand out now (the transaction is rolled back: nothing changes). */
  peekNext(k: number, opts: AllocationOptions): Promise<string[]> {
    const pool = typeof opts.pool === 'string' ? Prefix.parse(opts.pool) : opts.pool;
    const now = opts.now ?? Date.now();
    return this.transaction(
      async (c) => (await this.lowestFree(c, pool, opts.length, k, now, await this.allocationState(c, pool, opts.length, k, now, []))).chosen.map(String),
      { rollback: true },
    );
  }

  async quarantined(): Promise<Quarantined[]> {
    if (!this.ready) await this.transaction(async () => undefined);
    return this.serialized(async () => {
      const result = await this.client.query<{ address: string; prefix_len: number; until_ms: string }>(
        // until 0: a free marker (a record the contract dropped), not a quarantine.
        'SELECT address, prefix_len, until_ms FROM v6pod_quarantine WHERE until_ms > 0 ORDER BY address, prefix_len',
      );
      return result.rows.map((r) => ({ prefix: Prefix.parse(`${r.address}/${r.prefix_len}`).toString(), until: Number(r.until_ms) }));
    });
  }

  remove(macs: readonly string[], quarantine?: QuarantineOptions): Promise<void> {
    const bytes = macs.map((m) => macToBytes(parseMac(m)));
    // With no MACs, a quarantine still ends the records due by its `now`.
    if (!bytes.length && !quarantine) return Promise.resolve();
    return this.transaction(async (c) => {
      const gone = await c.query<{ address: string; prefix_len: number }>(
        `SELECT r.address, r.prefix_len FROM ipv6_reservations r JOIN hosts h ON h.host_id = r.host_id
          WHERE h.dhcp_identifier_type = $1 AND h.dhcp6_subnet_id = $2 AND r.type = $3 AND h.dhcp_identifier = ANY($4::bytea[])`,
        [HW_ADDRESS, this.subnetId, TYPE_PD, bytes],
      );
      const prefixes = gone.rows.map((r) => Prefix.parse(`${r.address}/${r.prefix_len}`));
      // Every removed prefix gets a record (until 0 without a quarantine: free at once), so the
      // allocation cursor never passes a prefix that is neither reserved nor recorded. A prefix
      // released twice keeps the later end (GREATEST). Records that ended by `now` become free
      // markers (until 0) rather than going: they are the free prefixes below the cursor, dropped
      // when a prefix is reserved again.
      await c.query(
        `WITH q AS (
           INSERT INTO v6pod_quarantine (address, prefix_len, until_ms, idx)
           SELECT a, l, $4, i::numeric FROM unnest($5::varchar[], $6::smallint[], $7::text[]) AS t(a, l, i)
           ON CONFLICT (address, prefix_len) DO UPDATE SET until_ms = GREATEST(v6pod_quarantine.until_ms, EXCLUDED.until_ms), idx = EXCLUDED.idx)
         DELETE FROM hosts WHERE dhcp_identifier_type = $1 AND dhcp6_subnet_id = $2 AND dhcp_identifier = ANY($3::bytea[])`,
        [HW_ADDRESS, this.subnetId, bytes, quarantine?.until ?? 0, prefixes.map((p) => p.address()), prefixes.map((p) => p.length), prefixes.map(globalIndex)],
      );
      if (quarantine) await c.query('UPDATE v6pod_quarantine SET until_ms = 0 WHERE until_ms > 0 AND until_ms <= $1', [quarantine.now]);
    });
  }

  /**
   * Ends the session without waiting for the server to tear its backend down (tens of ms on a
   * busy host): every transaction has committed or rolled back by now, so nothing depends on it.
   */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    const ended = this.client.end();
    ended.catch(() => undefined);
    const stream = (this.client.connection as unknown as { stream?: { unref?: () => void } }).stream;
    if (stream?.unref) stream.unref();
    else await ended;
  }

  /** Every reservation, or those of `macs` (through Kea's unique index on the identifier). */
  private async read(c: pg.ClientBase, macs?: Buffer[]): Promise<Reservation[]> {
    const result = await c.query<{ mac: Buffer; address: string | null; prefix_len: number | null }>(
      `SELECT h.dhcp_identifier AS mac, r.address, r.prefix_len
         FROM hosts h LEFT JOIN ipv6_reservations r ON r.host_id = h.host_id AND r.type = $3
        WHERE h.dhcp_identifier_type = $1 AND h.dhcp6_subnet_id = $2 ${macs ? 'AND h.dhcp_identifier = ANY($4::bytea[])' : ''}
        ORDER BY h.dhcp_identifier, r.reservation_id`,
      [HW_ADDRESS, this.subnetId, TYPE_PD, ...(macs ? [macs] : [])],
    );
    return byMac(result.rows.map((r) => ({ mac: formatMac(r.mac), address: r.address, prefix_len: r.prefix_len })));
  }

  /** The body of put: one batch of canonical reservations, inside the caller's transaction. */
  private async write(c: pg.ClientBase, batch: readonly Reservation[]): Promise<void> {
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
  }

  /**
   * reserveNext's write, one statement: the new hosts (MACs with no host row: reserveNext read them
   * under the lock), their prefixes in order, the prefixes' records dropped, the cursor moved.
   * The prefixes are free by construction (lowestFree), so put's clash check is not needed.
   */
  private async writeFresh(c: pg.ClientBase, fresh: readonly Reservation[], pool: Prefix, length: number, cursor: number): Promise<void> {
    const rows = fresh.flatMap((r) => r.prefixes.map((p) => ({ mac: macToBytes(r.mac), address: Prefix.parse(p).address() })));
    await c.query(
      `WITH h AS (
         INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp6_subnet_id)
         SELECT unnest($1::bytea[]), $2, $3 RETURNING host_id, dhcp_identifier),
       r AS (
         INSERT INTO ipv6_reservations (address, prefix_len, type, host_id)
         SELECT t.a, $5, $6, h.host_id FROM unnest($4::varchar[], $7::bytea[]) WITH ORDINALITY AS t(a, m, n)
           JOIN h ON h.dhcp_identifier = t.m ORDER BY t.n),
       q AS (DELETE FROM v6pod_quarantine WHERE prefix_len = $5 AND address = ANY($4::varchar[]))
       UPDATE v6pod_allocator SET next_idx = $8 WHERE subnet_id = $3 AND pool = $9 AND prefix_len = $5`,
      [
        fresh.map((r) => macToBytes(r.mac)),
        HW_ADDRESS,
        this.subnetId,
        rows.map((r) => r.address),
        length,
        TYPE_PD,
        rows.map((r) => r.mac),
        cursor,
        pool.toString(),
      ],
    );
  }

  /**
   * What an allocation starts from, in one statement: the reservations of `macs`, the pool's
   * cursor (created from one full read when missing) and the `k` lowest records whose quarantine
   * ended by `now`. Records without an index (from an older v6pod) get theirs first.
   */
  private async allocationState(c: pg.ClientBase, pool: Prefix, length: number, k: number, now: number, macs: Buffer[]): Promise<AllocationState> {
    if (length < pool.length || length > 128) throw new Error(`cannot carve /${length} prefixes from ${pool}`);
    const count = pool.subprefixCount(length);
    const capacity = count > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(count);
    const base = pool.network >> BigInt(128 - length);
    for (let attempt = 0; ; attempt++) {
      const q = await c.query<{
        existing: { mac: string; address: string | null; prefix_len: number | null }[] | null;
        cursor: string | null;
        ended: string[] | null;
        bare: boolean;
      }>(
        `SELECT
           (SELECT json_agg(json_build_object('mac', encode(h.dhcp_identifier, 'hex'), 'address', r.address, 'prefix_len', r.prefix_len)
                            ORDER BY h.dhcp_identifier, r.reservation_id)
              FROM hosts h LEFT JOIN ipv6_reservations r ON r.host_id = h.host_id AND r.type = $3
             WHERE h.dhcp_identifier_type = $1 AND h.dhcp6_subnet_id = $2 AND h.dhcp_identifier = ANY($4::bytea[])) AS existing,
           (SELECT next_idx FROM v6pod_allocator WHERE subnet_id = $2 AND pool = $5 AND prefix_len = $6) AS cursor,
           (SELECT array_agg(idx::text ORDER BY idx) FROM (
              SELECT idx FROM v6pod_quarantine WHERE prefix_len = $6 AND idx >= $7::numeric AND idx < $8::numeric AND until_ms <= $9
               ORDER BY prefix_len, idx LIMIT $10) e) AS ended,
           EXISTS (SELECT 1 FROM v6pod_quarantine WHERE idx IS NULL) AS bare`,
        [HW_ADDRESS, this.subnetId, TYPE_PD, macs, pool.toString(), length, base.toString(), (base + BigInt(capacity)).toString(), now, k],
      );
      const row = q.rows[0]!;
      if (attempt === 0 && (row.bare || row.cursor === null)) {
        if (row.bare) await this.indexRecords(c);
        if (row.cursor === null) await this.createCursor(c, pool, length);
        continue;
      }
      return {
        existing: byMac((row.existing ?? []).map((r) => ({ ...r, mac: formatMac(Buffer.from(r.mac, 'hex')) }))),
        cursor: Number(row.cursor ?? 0),
        ended: (row.ended ?? []).map((i) => Number(BigInt(i) - base)),
        capacity,
      };
    }
  }

  /**
   * The `k` lowest free /length prefixes of `pool` at `now` and the cursor past those taken from
   * beyond it (inside the caller's transaction, which holds the write lock): the lowest ended
   * records, and from the cursor on the first indices neither reserved nor in quarantine. Throws
   * PoolExhaustedError when fewer than `k` are free.
   */
  private async lowestFree(
    c: pg.ClientBase,
    pool: Prefix,
    length: number,
    k: number,
    now: number,
    state: AllocationState,
  ): Promise<{ chosen: Prefix[]; cursor: number }> {
    const beyond: number[] = [];
    // A window in which every index was taken doubles the next one: reservations written past the
    // cursor by put() (a bulk load) are caught up with in a few statements, once.
    let from = state.cursor;
    let grow = 1;
    while (beyond.length < k && from < state.capacity) {
      const size = Math.min((k - beyond.length + SCAN_SLACK) * grow, MAX_WINDOW, state.capacity - from);
      const window = Array.from({ length: size }, (_, i) => from + i);
      const addresses = window.map((i) => pool.carve(length, i).address());
      const blocked = await c.query<{ address: string }>(
        `SELECT address FROM ipv6_reservations WHERE type = $3 AND prefix_len = $2 AND address = ANY($1::varchar[])
         UNION SELECT address FROM v6pod_quarantine WHERE prefix_len = $2 AND address = ANY($1::varchar[]) AND until_ms > $4`,
        [addresses, length, TYPE_PD, now],
      );
      // The statement matched the canonical text itself: compare as text (no parsing of thousands of rows in a catch-up).
      const taken = new Set(blocked.rows.map((r) => r.address));
      const found = beyond.length;
      for (let i = 0; i < window.length && beyond.length < k; i++) if (!taken.has(addresses[i]!)) beyond.push(window[i]!);
      from += window.length;
      grow = beyond.length > found ? 1 : grow * 2;
    }
    const chosen = [...new Set([...state.ended, ...beyond])].sort((a, b) => a - b).slice(0, k);
    if (chosen.length < k) {
      const base = pool.network >> BigInt(128 - length);
      const q = await c.query<{ n: string }>(
        `SELECT count(*) AS n FROM v6pod_quarantine WHERE prefix_len = $1 AND idx >= $2::numeric AND idx < $3::numeric AND until_ms > $4`,
        [length, base.toString(), (base + BigInt(state.capacity)).toString(), now],
      );
      throw new PoolExhaustedError(pool.toString(), length, Number(q.rows[0]?.n ?? 0));
    }
    const cursor = Math.max(state.cursor, ...chosen.filter((i) => i >= state.cursor).map((i) => i + 1));
    return { chosen: chosen.map((i) => pool.carve(length, i)), cursor };
  }

  /** Fills in the index of records written without one (by an older v6pod). */
  private async indexRecords(c: pg.ClientBase): Promise<void> {
    const bare = await c.query<{ address: string; prefix_len: number }>('SELECT address, prefix_len FROM v6pod_quarantine WHERE idx IS NULL');
    await c.query(
      `UPDATE v6pod_quarantine q SET idx = t.i::numeric FROM unnest($1::varchar[], $2::smallint[], $3::text[]) AS t(a, l, i)
        WHERE q.address = t.a AND q.prefix_len = t.l`,
      [bare.rows.map((r) => r.address), bare.rows.map((r) => r.prefix_len), bare.rows.map((r) => globalIndex(Prefix.parse(`${r.address}/${r.prefix_len}`)))],
    );
  }

  /**
   * A pool seen for the first time (or a database an older v6pod wrote) gets its cursor from one
   * full read: past the highest reserved or recorded prefix, each free index below it recorded as
   * free (until 0), so that every index below the cursor is reserved or recorded.
   */
  private async createCursor(c: pg.ClientBase, pool: Prefix, length: number): Promise<void> {
    const used = new Set<number>();
    const reserved = await c.query<{ address: string; prefix_len: number }>('SELECT address, prefix_len FROM ipv6_reservations WHERE type = $1', [TYPE_PD]);
    const recorded = await c.query<{ address: string; prefix_len: number }>('SELECT address, prefix_len FROM v6pod_quarantine');
    let next = 0;
    for (const r of [...reserved.rows, ...recorded.rows]) {
      if (r.prefix_len !== length) continue;
      const p = Prefix.parse(`${r.address}/${r.prefix_len}`);
      if (!pool.containsPrefix(p)) continue;
      const i = pool.indexOf(p);
      if (i >= BigInt(Number.MAX_SAFE_INTEGER)) continue;
      used.add(Number(i));
      next = Math.max(next, Number(i) + 1);
    }
    const gaps = [];
    for (let i = 0; i < next; i++) if (!used.has(i)) gaps.push(pool.carve(length, i));
    await c.query(
      `WITH g AS (
         INSERT INTO v6pod_quarantine (address, prefix_len, until_ms, idx)
         SELECT a, $2, 0, i::numeric FROM unnest($1::varchar[], $3::text[]) AS t(a, i) ON CONFLICT DO NOTHING)
       INSERT INTO v6pod_allocator (subnet_id, pool, prefix_len, next_idx) VALUES ($4, $5, $2, $6)`,
      [gaps.map((p) => p.address()), length, gaps.map(globalIndex), this.subnetId, pool.toString(), next],
    );
  }

  /** ipv6_reservations rows go with their host (ON DELETE CASCADE). */
  private async deleteHosts(c: pg.ClientBase, macs: Buffer[]): Promise<void> {
    await c.query('DELETE FROM hosts WHERE dhcp_identifier_type = $1 AND dhcp6_subnet_id = $2 AND dhcp_identifier = ANY($3::bytea[])', [
      HW_ADDRESS,
      this.subnetId,
      macs,
    ]);
  }

  /**
   * `body` in one transaction under the write lock (BEGIN and the lock in one round trip); the
   * first transaction of a session also makes sure v6pod's tables exist. `rollback`: undo it all.
   */
  private transaction<T>(body: (c: pg.ClientBase) => Promise<T>, opts: { rollback?: boolean } = {}): Promise<T> {
    return this.serialized(async () => {
      const check = this.ready ? '' : `; SELECT to_regclass('v6pod_allocator') IS NOT NULL AS ready`;
      const begun = (await this.client.query(`BEGIN; SELECT pg_advisory_xact_lock(${WRITE_LOCK})${check}`)) as unknown as pg.QueryResult[];
      let created = false;
      try {
        if (!this.ready && !(begun.at(-1)?.rows[0] as { ready?: boolean } | undefined)?.ready) {
          await this.client.query(V6POD_TABLES);
          created = true;
        }
        const result = await body(this.client);
        await this.client.query(opts.rollback ? 'ROLLBACK' : 'COMMIT');
        if (!opts.rollback || !created) this.ready = true;
        return result;
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

interface AllocationState {
  existing: Reservation[];
  cursor: number;
  /** Indices in the pool of the lowest records whose quarantine has ended. */
  ended: number[];
  capacity: number;
}

/** Rows of (MAC, prefix or none) in order, grouped into reservations. */
function byMac(rows: readonly { mac: string; address: string | null; prefix_len: number | null }[]): Reservation[] {
  const out = new Map<string, Reservation>();
  for (const row of rows) {
    let r = out.get(row.mac);
    if (!r) out.set(row.mac, (r = { mac: row.mac, prefixes: [] }));
    if (row.address !== null) r.prefixes.push(Prefix.parse(`${row.address}/${row.prefix_len}`).toString());
  }
  return [...out.values()];
}
