/**
 * The addresses of one emulated interface with their DAD state and lifetimes (RFC 4862 §5.5.4):
 * an address is deprecated once its preferred lifetime passed and gone once its valid lifetime did.
 * Lifetimes are absolute times in ms (null: infinite, the 0xffffffff of RFC 4861 §4.6.2).
 */

export type AddressState = 'tentative' | 'optimistic' | 'preferred' | 'deprecated' | 'duplicate';
export type AddressOrigin = 'link-local' | 'slaac' | 'delegated';
/** Where DAD stands: 'done' means passed (or not needed); preferred/deprecated then follow from the lifetimes. */
export type DadStatus = 'tentative' | 'optimistic' | 'done' | 'duplicate';

export interface HostAddress {
  address: string;
  prefixLength: number;
  origin: AddressOrigin;
  dad: DadStatus;
  preferredUntil: number | null;
  validUntil: number | null;
}

export const INFINITE_LIFETIME = 0xffffffff;
/** RFC 4862 §5.5.3 (e): an unauthenticated RA cannot cut a valid lifetime below two hours. */
const TWO_HOURS_S = 2 * 60 * 60;

/** The absolute end of a lifetime given in seconds from `now`. */
export function lifetimeEnd(seconds: number, now: number): number | null {
  return seconds === INFINITE_LIFETIME ? null : now + seconds * 1000;
}

export function addressState(a: HostAddress, now: number): AddressState {
  if (a.dad !== 'done') return a.dad;
  return a.preferredUntil !== null && now >= a.preferredUntil ? 'deprecated' : 'preferred';
}

/** Usable as a source and answered for: DAD passed or optimistic (RFC 4429), not duplicate. */
export function isUsable(a: HostAddress): boolean {
  return a.dad === 'done' || a.dad === 'optimistic';
}

/**
 * RFC 4862 §5.5.3 (e), the valid lifetime of an address already formed from the prefix: the
 * advertised lifetime when it is over two hours or extends the remaining one; otherwise the
 * remaining lifetime is kept when it is two hours or less, and cut to two hours when longer.
 * So a valid lifetime of 0 never removes an address at once (Linux does the same).
 */
export function updatedValidUntil(current: number | null, advertised: number, now: number): number | null {
  const remaining = current === null ? Infinity : (current - now) / 1000;
  if (advertised > TWO_HOURS_S || advertised > remaining) return lifetimeEnd(advertised, now);
  if (remaining <= TWO_HOURS_S) return current;
  return now + TWO_HOURS_S * 1000;
}

export class AddressTable {
  private readonly byAddress = new Map<string, HostAddress>();

  get(address: string): HostAddress | undefined {
    return this.byAddress.get(address);
  }

  add(a: HostAddress): HostAddress {
    this.byAddress.set(a.address, a);
    return a;
  }

  delete(address: string): void {
    this.byAddress.delete(address);
  }

  /** Forgets addresses whose valid lifetime ended. */
  expire(now: number): void {
    for (const [k, a] of this.byAddress) if (a.validUntil !== null && now >= a.validUntil) this.byAddress.delete(k);
  }

  all(): HostAddress[] {
    return [...this.byAddress.values()];
  }
}
