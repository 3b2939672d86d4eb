/**
 * Every synthetic instance one hypervisor's host daemon serves: for each, its port (a FrameLink,
 * a TAP on the bridge in the daemon) and its emulated host. Instances come and go as a batch is
 * added or one is removed; a batch that fails part-way closes what it opened (no half-built state).
 */
import { SyntheticHost, type DadMode } from './host.ts';
import { assertDistinct, parseSynthInstance, type SynthInstance } from './host-config.ts';
import type { FrameLink } from './link.ts';
import type { Clock } from './clock.ts';
import type { DhcpClientFactory } from './dhcp-client.ts';

export interface FleetPorts {
  /** Opens the instance's port (creates the TAP). */
  open(port: string): FrameLink;
  /** Puts the opened ports into service (bridge, sysctls, up), all in one go. */
  attach(ports: string[]): Promise<void>;
}

export interface FleetOptions {
  dad: DadMode;
  /** Spread of the PD clients' first Solicits (RFC 8415 §18.2.1), for many instances booting together. */
  firstSolicitDelayMs?: number;
  /** The MLD version of the instances' reports (SyntheticHostOptions.mldVersion). */
  mldVersion?: 1 | 2;
  ports: FleetPorts;
  dhcpFactory?: DhcpClientFactory;
  clock?: Clock;
}

interface Served {
  config: SynthInstance;
  link: FrameLink;
  host: SyntheticHost;
}

export class UnknownInstance extends Error {
  override name = 'UnknownInstance';
}

export class Fleet {
  private readonly served = new Map<string, Served>();

  constructor(private readonly opts: FleetOptions) {}

  /** Checks, opens, attaches and starts the instances; resolves once all their ports are attached. */
  async add(raw: readonly unknown[]): Promise<string[]> {
    const configs = raw.map((r, k) => parseSynthInstance(r, raw.length > 1 ? `instances[${k}]` : 'instance'));
    assertDistinct(
      configs,
      [...this.served.values()].map((s) => s.config),
      'instance',
    );
    const links: FrameLink[] = [];
    try {
      for (const c of configs) links.push(this.opts.ports.open(c.port));
      await this.opts.ports.attach(configs.map((c) => c.port));
    } catch (err) {
      for (const l of links) l.close();
      throw err;
    }
    configs.forEach((config, k) => {
      const link = links[k]!;
      const host = new SyntheticHost(link, {
        name: config.name,
        mac: config.mac,
        port: config.port,
        dad: this.opts.dad,
        ...(this.opts.mldVersion ? { mldVersion: this.opts.mldVersion } : {}),
        dhcp: {
          enabled: config.dhcp,
          iaids: config.iaids,
          firstSolicitDelayMs: this.opts.firstSolicitDelayMs ?? 0,
          ...(config.duid ? { duid: Buffer.from(config.duid, 'hex') } : {}),
        },
        ...(this.opts.dhcpFactory ? { dhcpFactory: this.opts.dhcpFactory } : {}),
        ...(this.opts.clock ? { clock: this.opts.clock } : {}),
      });
      this.served.set(config.name, { config, link, host });
    });
    for (const c of configs) this.served.get(c.name)!.host.start();
    return configs.map((c) => c.name);
  }

  /** Stops the host and closes its port (the TAP disappears): the VM is gone, nothing is sent. */
  remove(name: string): void {
    const s = this.get(name);
    s.host.stop();
    s.link.close();
    this.served.delete(name);
  }

  host(name: string): SyntheticHost {
    return this.get(name).host;
  }

  /** Every instance's host, or those of the names given that are served. */
  hosts(names?: ReadonlySet<string>): SyntheticHost[] {
    return [...this.served.values()].filter((s) => !names || names.has(s.config.name)).map((s) => s.host);
  }

  get size(): number {
    return this.served.size;
  }

  close(): void {
    for (const name of [...this.served.keys()]) this.remove(name);
  }

  private get(name: string): Served {
    const s = this.served.get(name);
    if (!s) throw new UnknownInstance(`no instance '${name}' on this host`);
    return s;
  }
}
