/**
 * What the emulated host needs from its DHCPv6 PD client (harness/synth/pd-client.ts's PdClient):
 * started once the link-local is usable, fed the frames addressed to UDP 546, asked to renew or
 * release, and read for the delegated prefixes. Kept as an interface so the host is tested with a
 * fake and does not depend on the client's internals.
 */
import type { PdClientOptions, PdSnapshot } from './pd-client.ts';

/** The client's own snapshot (state, DUID, delegated prefixes with lifetimes, status, counters). */
export type DhcpSnapshot = PdSnapshot;

export interface DhcpClient {
  start(): void;
  /** True when the frame was a DHCPv6 message for this client. */
  handleFrame(frame: Buffer): boolean;
  renew(): void;
  release(): Promise<void>;
  stop(): void;
  snapshot(): DhcpSnapshot;
  on(event: 'bound' | 'changed', listener: () => void): unknown;
}

/** The client's options are PdClient's own. */
export type DhcpClientOptions = PdClientOptions;

export type DhcpClientFactory = (opts: DhcpClientOptions) => DhcpClient;
