/**
 * What each real guest DHCPv6 client can do, as measured on Debian 12 (docs/guests.md): the one
 * table the launchers (guest-clients.ts) and the GUEST scenarios read. A capability a client lacks
 * carries its reason; the scenarios report that cell "unsupported" (skipped with the reason), never
 * as a pass.
 */
import type { RealClient } from '../harness/pod/pod-file.ts';

/** The columns of the guest matrix: what a guest image needs from its client in Basic Networking. */
export const GUEST_CAPABILITIES = ['delegation', 'two-prefixes', 'renew', 'shutdown', 'no-reservation', 'traffic'] as const;
export type GuestCapability = (typeof GUEST_CAPABILITIES)[number];

export interface ClientFacts {
  /** The Debian 12 package and program. */
  package: string;
  program: string;
  /** The most IA_PDs it asks for in one exchange. */
  maxIaPds: number;
  /** How the guest OS stops it at shutdown (what the shutdown scenario does). */
  shutdown: string;
  /** Whether that stop sends a Release (measured): true removes the routes at once, false leaves them until the lease expires. */
  releasesOnShutdown: boolean;
  /** Capabilities it lacks, with the reason. */
  unsupported: Partial<Record<GuestCapability, string>>;
}

export const CLIENT_FACTS: Readonly<Record<RealClient, ClientFacts>> = {
  dhcp6c: {
    package: 'wide-dhcpv6-client',
    program: 'dhcp6c',
    maxIaPds: 2,
    shutdown: 'SIGTERM',
    releasesOnShutdown: true,
    unsupported: {},
  },
  dhcpcd: {
    package: 'dhcpcd-base',
    program: 'dhcpcd',
    maxIaPds: 2,
    shutdown: 'SIGTERM (with `release` in dhcpcd.conf)',
    releasesOnShutdown: true,
    unsupported: {},
  },
  dhclient: {
    package: 'isc-dhcp-client',
    program: 'dhclient',
    maxIaPds: 2,
    shutdown: '`dhclient -6 -r` (what ifdown runs)',
    releasesOnShutdown: true,
    unsupported: {},
  },
  networkd: {
    package: 'systemd',
    program: 'systemd-networkd',
    maxIaPds: 1,
    shutdown: 'SIGTERM',
    releasesOnShutdown: false,
    unsupported: {
      'two-prefixes': 'systemd-networkd 252 asks for one IA_PD per link (systemd issue 22571): a second reserved prefix is never requested',
    },
  },
  dibbler: {
    package: 'dibbler-client',
    program: 'dibbler-client',
    maxIaPds: 2,
    shutdown: 'SIGTERM',
    releasesOnShutdown: true,
    unsupported: {},
  },
};
