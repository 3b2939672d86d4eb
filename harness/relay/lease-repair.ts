/**
 * Both routers relay every client message, and each installs the routes of the Reply it relays
 * back. When the server answers only one router's copy of a Request, Renew or Rebind — it dropped
 * the other for a full socket buffer under load — the client is bound and the other router never
 * sees a Reply, so it would lack the route until the client's next Renew (T1: many minutes). The
 * relay notes each such message it forwarded; one still unanswered after a grace period makes it
 * read the server's leases (lease6-get-page) and route the active ones of that client's MAC via
 * the address the message came from. A lookup that finds no lease (the exchange failed, or the
 * server has not committed yet) is tried again a few times, then given up.
 */
import type { DelegatedRoute } from './routes.ts';
import type { KeaLease6 } from './reconcile.ts';

/** How long a forwarded binding message waits for its Reply before the relay asks the server. */
export const REPAIR_GRACE_MS = 1500;
const ATTEMPTS = 3;

interface Unanswered {
  mac: string;
  since: number;
  attempts: number;
}

export class LeaseRepair {
  /** By client address: one open binding exchange per client is what matters. */
  private readonly waiting = new Map<string, Unanswered>();

  constructor(private readonly capacity = 65_536) {}

  /** A Request, Renew or Rebind from `peer` (frame source `mac`) was forwarded. */
  forwarded(peer: string, mac: string, now = Date.now()): void {
    if (this.waiting.size >= this.capacity && !this.waiting.has(peer)) return; // a flood: the Replies will do
    this.waiting.set(peer, { mac, since: now, attempts: 0 });
  }

  /** A Reply to `peer` was relayed: its routes came with it. */
  answered(peer: string): void {
    this.waiting.delete(peer);
  }

  get pending(): number {
    return this.waiting.size;
  }

  /** Whether any exchange has waited past the grace period (worth a lease lookup). */
  due(now = Date.now()): boolean {
    for (const w of this.waiting.values()) if (now - w.since >= REPAIR_GRACE_MS) return true;
    return false;
  }

  /**
   * The routes the server's active `leases` give the overdue clients; clients without a lease are
   * kept for another attempt (up to ATTEMPTS), the others are done.
   */
  routesFrom(leases: readonly KeaLease6[], now = Date.now()): DelegatedRoute[] {
    const byMac = new Map<string, KeaLease6[]>();
    for (const l of leases) {
      const mac = l['hw-address']?.toLowerCase();
      if (mac) byMac.set(mac, [...(byMac.get(mac) ?? []), l]);
    }
    const routes: DelegatedRoute[] = [];
    for (const [peer, w] of this.waiting) {
      if (now - w.since < REPAIR_GRACE_MS) continue;
      const mine = byMac.get(w.mac) ?? [];
      for (const l of mine)
        routes.push({ prefix: `${l['ip-address']}/${l['prefix-len'] ?? 128}`, via: peer, mac: w.mac, expiresAt: (l.cltt + l['valid-lft']) * 1000 });
      if (mine.length || ++w.attempts >= ATTEMPTS) this.waiting.delete(peer);
      else w.since = now; // ask again after another grace period
    }
    return routes;
  }
}
