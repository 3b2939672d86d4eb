/**
 * The guests' real DHCPv6 clients (the pod file's `client:`), one small launcher each: the Debian 12
 * program in the foreground in the instance's namespace, its own state folder under the run
 * directory (guests/<instance>/: config, DUID, leases, PID file), a link-layer DUID where the client
 * takes one, its log in the run directory, recorded as a daemon of the run (so `down` and the kill
 * trials stop it). Nothing of the host is touched: `ip netns exec` gives each a private mount
 * namespace, where the fixed paths a client insists on are mounted over (docs/guests.md lists
 * what each needs and why); scripts that would rewrite resolv.conf are replaced by /bin/true.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { runDir } from '../harness/pod/names.ts';
import type { InstancePlan, Plan } from '../harness/pod/plan.ts';
import type { RealClient } from '../harness/pod/pod-file.ts';
import { REAL_CLIENTS } from '../harness/pod/pod-choices.ts';
import { run } from '../harness/os/exec.ts';
import { waitUntil } from '../harness/os/wait.ts';
import { CLIENT_FACTS } from './guest-capabilities.ts';
import { daemonAlive, startDaemon, stopDaemon } from './daemons/process.ts';
import { observeInstances } from './observe.ts';
import { writeState, type DaemonRecord, type RunState } from './run-state.ts';

export function isRealClient(client: string): client is RealClient {
  return (REAL_CLIENTS as readonly string[]).includes(client);
}

/** The instance's client state folder. */
export function guestDir(run: string, instance: string): string {
  return `${runDir(run)}/guests/${instance}`;
}

interface Launch {
  /** What the process is once it runs (its record). */
  argv: string[];
  /** What `ip netns exec` runs (a wrapper that mounts, then execs argv). */
  launch: string[];
  files: Record<string, string | Buffer>;
  env?: Record<string, string>;
}

const sh = (script: string) => ['sh', '-c', script];
const q = (s: string) => `'${s}'`;

/** DUID-LL (RFC 8415 §11.4): type 3, hardware type 1 (Ethernet), the MAC. */
function duidLl(mac: string): Buffer {
  return Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.from(mac.replaceAll(':', ''), 'hex')]);
}

/** How many IA_PDs the client asks for: one per reserved prefix, as many as it can, at least one. */
export function iaPdsOf(client: RealClient, inst: InstancePlan): number {
  return Math.max(1, Math.min(inst.prefixes, CLIENT_FACTS[client].maxIaPds));
}

const LAUNCHERS: Record<RealClient, (dir: string, inst: InstancePlan, iaPds: number) => Launch> = {
  // The seed's dhcp6c.conf with one `send ia-pd` per prefix and without its `send ia-na 0` (Kea has
  // no address pool: dhcp6c would Solicit for an address every few seconds, forever); its DUID file
  // (a 2-byte host-order length, then the DUID) under /var/lib/dhcpv6, where it insists on keeping it.
  dhcp6c(dir, inst, n) {
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    const duid = duidLl(inst.mac);
    const length = Buffer.alloc(2);
    length.writeUInt16LE(duid.length);
    const argv = ['dhcp6c', '-f', '-D', '-c', `${dir}/dhcp6c.conf`, '-p', `${dir}/dhcp6c.pid`, 'eth0'];
    return {
      argv,
      launch: sh(`mkdir -p ${q(`${dir}/dhcpv6`)} && mount --bind ${q(`${dir}/dhcpv6`)} /var/lib/dhcpv6 && exec ${argv.map(q).join(' ')}`),
      files: {
        'dhcp6c.conf': [
          'interface eth0 {',
          ...ids.map((i) => `  send ia-pd ${i};`),
          '  request domain-name-servers;',
          '  request domain-name;',
          '};',
          ...ids.map((i) => `id-assoc pd ${i} { };`),
          '',
        ].join('\n'),
        'dhcpv6/dhcp6c_duid': Buffer.concat([length, duid]),
      },
    };
  },
  // dhcpcd keeps its DUID and leases in /var/lib/dhcpcd and its sockets in /run/dhcpcd (absent on a
  // fresh host): the state folder is mounted over the first, a tmpfs over /run for the second.
  // noipv6rs leaves router discovery and SLAAC to the kernel; `release` makes its stop a Release.
  dhcpcd(_dir, _inst, n) {
    const argv = ['dhcpcd', '-B', '-d', '-f', '/var/lib/dhcpcd/dhcpcd.conf', 'eth0'];
    return {
      argv,
      launch: sh(`mount --bind ${q(_dir)} /var/lib/dhcpcd && mount -t tmpfs tmpfs /run && exec ${argv.join(' ')}`),
      files: {
        'dhcpcd.conf': [
          'duid ll',
          'release',
          'ipv6only',
          'noipv6rs',
          'script /bin/true',
          'allowinterfaces eth0',
          'interface eth0',
          ...Array.from({ length: n }, (_, i) => `  ia_pd ${i + 1}`),
          '',
        ].join('\n'),
      },
    };
  },
  // dhclient keeps its DUID in its lease file; -sf /bin/true: the stock script flushes addresses and
  // rewrites resolv.conf. -P once per IA_PD (it then asks for no address).
  dhclient(dir, _inst, n) {
    const argv = ['dhclient', ...dhclientArgs(dir, n), '-d', 'eth0'];
    return { argv, launch: argv, files: { 'dhclient6.conf': '' } };
  },
  // networkd without systemd as PID 1: its config and state in a tmpfs over /run/systemd, and /sys
  // read-only so it takes the namespace for a container and does not wait for udev.
  networkd(dir) {
    const argv = ['/lib/systemd/systemd-networkd'];
    return {
      argv,
      launch: sh(
        `mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/network && cp ${q(`${dir}/10-eth0.network`)} /run/systemd/network/ && ` +
          `mount -o remount,ro /sys && exec ${argv[0]}`,
      ),
      env: { SYSTEMD_LOG_LEVEL: 'debug', SYSTEMD_LOG_TARGET: 'console' },
      files: {
        '10-eth0.network': [
          '[Match]',
          'Name=eth0',
          '',
          '[Network]',
          'DHCP=ipv6',
          'IPv6AcceptRA=yes',
          'IPv6PrivacyExtensions=no',
          'LinkLocalAddressing=ipv6',
          '',
          '[DHCPv6]',
          'DUIDType=link-layer',
          'UseAddress=no',
          'WithoutRA=solicit',
          '',
          '[IPv6AcceptRA]',
          // The routers advertise M=0, O=1: without this networkd would only ask for information.
          'DHCPv6Client=always',
          '',
        ].join('\n'),
      },
    };
  },
  // dibbler-client: everything in its working directory (-w); no downlink interfaces to split the
  // prefixes over; one `pd` per IA_PD.
  dibbler(dir, _inst, n) {
    const argv = ['dibbler-client', 'run', '-w', dir];
    return {
      argv,
      launch: argv,
      files: {
        'client.conf': [
          'log-level 7',
          'log-mode short',
          'duid-type duid-ll',
          'downlink-prefix-ifaces "none"',
          'script "/bin/true"',
          'iface eth0 {',
          ...Array.from({ length: n }, () => '  pd'),
          '}',
          '',
        ].join('\n'),
      },
    };
  },
};

function dhclientArgs(dir: string, iaPds: number): string[] {
  return [
    '-6',
    ...Array.from({ length: iaPds }, () => '-P'),
    '-D',
    'LL',
    '-v',
    '-cf',
    `${dir}/dhclient6.conf`,
    '-lf',
    `${dir}/dhclient6.leases`,
    '-pf',
    `${dir}/dhclient6.pid`,
    '-sf',
    '/bin/true',
  ];
}

/** Waits until the instance's link-local address has finished DAD (dhclient cannot bind it before). */
export async function waitLinkLocalReady(insts: readonly InstancePlan[], timeoutMs = 10_000): Promise<void> {
  const pending = new Set(insts.map((i) => i.ns));
  await waitUntil(
    async () => {
      const seen = await observeInstances([...pending]);
      for (const ns of [...pending]) if (seen.get(ns)?.addresses.some((a) => a.scope === 'link' && !a.tentative && !a.dadFailed)) pending.delete(ns);
      return pending.size === 0;
    },
    { timeoutMs, what: () => `the link-local address of ${[...pending].join(', ')} to finish DAD` },
  );
}

/** Starts the instance's declared client (its link-local must be usable); returns its daemon record. */
export async function startGuestClient(plan: Plan, inst: InstancePlan): Promise<DaemonRecord> {
  const client = inst.client;
  if (!isRealClient(client)) throw new Error(`${inst.name} runs no real DHCPv6 client (client: ${client})`);
  const dir = guestDir(plan.run, inst.name);
  mkdirSync(dir, { recursive: true });
  // A fresh pid file: dhclient refuses to start while one names a live process.
  rmSync(`${dir}/dhclient6.pid`, { force: true });
  const l = LAUNCHERS[client](dir, inst, iaPdsOf(client, inst));
  for (const [name, content] of Object.entries(l.files)) {
    mkdirSync(`${dir}/${name}`.replace(/\/[^/]+$/, ''), { recursive: true });
    writeFileSync(`${dir}/${name}`, content);
  }
  return startDaemon({
    name: client,
    node: inst.name,
    ns: inst.ns,
    argv: l.argv,
    launch: l.launch,
    log: `${runDir(plan.run)}/${client}-${inst.name}.log`,
    env: l.env,
  });
}

/**
 * Stops the client the way the guest's OS does at shutdown (CLIENT_FACTS.shutdown): SIGTERM to the
 * client itself (not its helpers, which must live to send its Release), or `dhclient -6 -r`, which
 * releases and ends the running dhclient; then whatever is left of it is stopped.
 */
export async function shutdownGuestClient(plan: Plan, inst: InstancePlan, d: DaemonRecord, timeoutMs = 10_000): Promise<void> {
  if (inst.client === 'dhclient') {
    const dir = guestDir(plan.run, inst.name);
    await run(['ip', 'netns', 'exec', inst.ns, 'dhclient', ...dhclientArgs(dir, iaPdsOf('dhclient', inst)), '-r', 'eth0'], {
      timeoutMs,
      allowFailure: true,
    });
  } else if (daemonAlive(d, false)) {
    process.kill(d.pid, 'SIGTERM');
  }
  await waitUntil(() => !daemonAlive(d), { timeoutMs, what: `${d.name} in ${inst.name} (pid ${d.pid}) to exit after its shutdown` }).catch(() => undefined);
  await stopDaemon(d);
}

/** The instances of the plan whose declared client is a real program. */
export function clientInstances(plan: Plan): InstancePlan[] {
  return plan.instances.filter((i) => i.kind === 'namespace' && isRealClient(i.client));
}

/** Starts the declared clients that are not running (at `up`, and when `up` reconciles), once each link-local is usable. */
export async function startGuestClients(plan: Plan, state: RunState): Promise<void> {
  const missing = clientInstances(plan).filter((i) => !state.daemons.some((d) => d.name === i.client && d.node === i.name && daemonAlive(d)));
  if (!missing.length) return;
  await waitLinkLocalReady(missing);
  const started = await Promise.all(missing.map((i) => startGuestClient(plan, i)));
  state.daemons = [...state.daemons.filter((d) => !started.some((s) => s.name === d.name && s.node === d.node)), ...started];
  writeState(state);
}
