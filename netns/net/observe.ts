/**
 * What the kernel of each instance holds now: eth0's IPv6 addresses (with DAD state) and its
 * default routes. One process spawn reads every namespace asked for, so polling many instances is cheap.
 */
import { run } from '../exec.ts';

export interface ObservedAddress {
  address: string;
  prefixLength: number;
  scope: string;
  tentative: boolean;
  optimistic: boolean;
  dadFailed: boolean;
}

export interface ObservedInstance {
  addresses: ObservedAddress[];
  /** Gateways of the default routes (RA-learned routes: one per router). */
  defaultRoutes: string[];
}

interface IpAddrInfo {
  local: string;
  prefixlen: number;
  scope: string;
  tentative?: boolean;
  optimistic?: boolean;
  dadfailed?: boolean;
}
interface IpRoute {
  gateway?: string;
  nexthops?: Array<{ gateway?: string }>;
}

const MARK = '@@v6pod@@';

export async function observeInstances(namespaces: readonly string[], iface = 'eth0'): Promise<Map<string, ObservedInstance>> {
  // `ip -j` ends some outputs with a newline and some without: each part gets a marker line of its own.
  const script = namespaces
    .map((ns) => `echo '${MARK}${ns}'; echo '${MARK}addr'; ip -n '${ns}' -j -6 addr show dev ${iface}; echo; echo '${MARK}route'; ip -n '${ns}' -j -6 route show default; echo`)
    .join('\n');
  const { stdout } = await run(['sh', '-c', script], { allowFailure: true });
  const out = new Map<string, ObservedInstance>();
  const parts = stdout.split(MARK).slice(1);
  for (let i = 0; i + 2 < parts.length; i += 3) {
    const ns = parts[i]!.trim();
    const addrJson = parts[i + 1]!.replace(/^addr\n/, '');
    const routeJson = parts[i + 2]!.replace(/^route\n/, '');
    const links = safeJson<Array<{ addr_info?: IpAddrInfo[] }>>(addrJson);
    const routes = safeJson<IpRoute[]>(routeJson);
    out.set(ns, {
      addresses: links.flatMap((l) => l.addr_info ?? []).map((a) => ({
        address: a.local,
        prefixLength: a.prefixlen,
        scope: a.scope,
        tentative: a.tentative === true,
        optimistic: a.optimistic === true,
        dadFailed: a.dadfailed === true,
      })),
      defaultRoutes: routes.flatMap((r) => (r.gateway ? [r.gateway] : (r.nexthops ?? []).flatMap((n) => (n.gateway ? [n.gateway] : [])))),
    });
  }
  return out;
}

function safeJson<T>(text: string | undefined): T {
  try {
    return (text?.trim() ? JSON.parse(text) : []) as T;
  } catch {
    return [] as T;
  }
}

/** Usable for traffic: DAD done, or optimistic (RFC 4429). */
export function usable(a: ObservedAddress): boolean {
  return !a.dadFailed && (!a.tentative || a.optimistic);
}
