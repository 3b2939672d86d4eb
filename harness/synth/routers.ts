/**
 * The default router list (RFC 4861 §6.3.4, §5.2): routers that advertised a non-zero router
 * lifetime, each until that lifetime ends; a lifetime of 0 removes the router at once.
 */
export interface DefaultRouter {
  address: string;
  mac: string | null;
  expiresAt: number;
}

export class DefaultRouters {
  private readonly routers = new Map<string, DefaultRouter>();

  update(address: string, mac: string | undefined, lifetimeS: number, now: number): void {
    if (lifetimeS === 0) {
      this.routers.delete(address);
      return;
    }
    const known = this.routers.get(address);
    this.routers.set(address, { address, mac: mac ?? known?.mac ?? null, expiresAt: now + lifetimeS * 1000 });
  }

  list(now: number): DefaultRouter[] {
    for (const [k, r] of this.routers) if (now >= r.expiresAt) this.routers.delete(k);
    return [...this.routers.values()];
  }

  /** The router for off-link destinations: the first advertised that is still valid. */
  pick(now: number): DefaultRouter | undefined {
    return this.list(now)[0];
  }
}
