/**
 * `v6pod status [--run NAME] [--json]`: a run's nodes, links, addresses, routes, daemons and
 * instances against its plan, as tables or as the JSON object of docs/status.md.
 * Exit 0 when the pod is as planned, 1 when it is degraded (the problems are listed).
 */
import type { Command } from 'commander';
import type { CounterSnapshot } from '../harness/relay/counters.ts';
import type { NodeStatus, RunStatus } from '../netns/inspect.ts';
import type { RunMode } from '../netns/userns.ts';

/** Left-aligned columns, two spaces apart. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

/** Interfaces with their state and IPv6 addresses: "lan UP 2001:db8:100::1/64 fe80::…/64". */
function interfaces(n: NodeStatus): string {
  return n.interfaces
    .filter((i) => i.name !== 'lo' || i.addresses.some((a) => a.scope === 'global'))
    .map((i) =>
      [
        `${i.name}${i.master ? `@${i.master}` : ''}:${i.state}`,
        ...i.addresses.map((a) => `${a.address}/${a.prefixLength}${a.tentative ? ' (tentative)' : ''}`),
      ].join(' '),
    )
    .join('; ');
}

/** Routes other than the kernel's own (connected prefixes, link-local): what the plan and RAs put there. */
function routes(n: NodeStatus): string[] {
  return n.routes
    .filter((r) => r.protocol !== 'kernel')
    .map((r) => {
      const via = r.nexthops.length
        ? r.nexthops.map((h) => `via ${h.gateway ?? '-'} dev ${h.device ?? '-'}`).join(', ')
        : `via ${r.gateway ?? '-'} dev ${r.device ?? '-'}`;
      return `${n.name}: ${r.destination} ${via}${r.protocol ? ` proto ${r.protocol}` : ''}`;
    });
}

/** Which mode the run is in: "root", or "rootless (user namespace held by keeper PID N, state in DIR)". */
export function modeText(m: RunMode): string {
  return m.mode === 'root' ? 'root' : `rootless (user namespace held by keeper PID ${m.keeper}, state in ${m.stateDir})`;
}

export function statusText(s: RunStatus): string {
  const lines = [
    `run ${s.run}: pod ${s.pod} (${s.podFile}), phase ${s.phase}, ${s.verdict}`,
    `mode ${modeText(s.mode)}`,
    '',
    ...table(
      ['NODE', 'ROLE', 'NAMESPACE', 'OK', 'INTERFACES'],
      s.nodes.map((n) => [n.name, n.role, n.present ? n.namespace : `${n.namespace} (missing)`, n.ok ? 'ok' : 'NO', interfaces(n)]),
    ),
    '',
    'routes:',
    ...s.nodes.flatMap(routes).map((r) => `  ${r}`),
    '',
    ...table(
      ['DAEMON', 'NODE', 'PID', 'STATE', 'LOG'],
      s.daemons.map((d) => [d.name, d.node, String(d.pid ?? '-'), d.alive ? 'alive' : 'DEAD', d.log ?? '-']),
    ),
    `kea control socket ${s.kea.socket}: ${s.kea.answering ? 'answering' : `NOT answering (${s.kea.error ?? ''})`}`,
    ...s.relays.map((r) => `relay on ${r.router}: ${r.answering ? relayCounters(r.counters as unknown as CounterSnapshot) : `NOT answering on ${r.socket}`}`),
    '',
    ...table(
      ['INSTANCE', 'HV', 'PORT', 'MAC', 'SLAAC (predicted)', 'STATE', 'DEFAULT ROUTES', 'OK'],
      s.instances.map((i) => [
        i.name,
        i.hypervisor,
        i.port,
        i.kernelMac === i.mac ? i.mac : `${i.mac} (kernel ${i.kernelMac ?? 'none'})`,
        i.slaac.predicted,
        i.slaac.state,
        `${i.defaultRoutes.expected.length - i.defaultRoutes.missing.length}/${i.defaultRoutes.expected.length}`,
        i.ok ? 'ok' : 'NO',
      ]),
    ),
  ];
  if (s.problems.length) lines.push('', 'problems:', ...s.problems.map((p) => `  - ${p}`));
  return `${lines.join('\n')}\n`;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show a run: nodes, links, addresses, routes, daemons, instances; exit 1 when degraded')
    .option('--run <name>', 'run name (default: the only run)')
    .option('--json', 'one JSON object (schema: docs/status.md)')
    .action(async (opts: { run?: string; json?: boolean }) => {
      // The run first: with none (or several) up, the answer needs none of the inspection code.
      const run = (await import('./run-option.ts')).resolveRun(opts.run);
      const { inspectRun } = await import('../netns/inspect.ts');
      const s = await inspectRun(run);
      process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : statusText(s));
      if (s.verdict !== 'ok') process.exitCode = 1;
    });
}

/** One line of a relay's counters: what it received, sent and dropped, and its routes. */
function relayCounters(c: CounterSnapshot): string {
  const list = (t: Record<string, number>) =>
    Object.entries(t)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const r = c.routes;
  return `received ${list(c.received)}; sent ${list(c.sent)}; dropped ${list(c.dropped)}; routes ${r.current} (installed ${r.installed}, removed ${r.removed}, expired ${r.expired}${r.repaired ? `, repaired from Kea's leases ${r.repaired}` : ''}${r.refused ? `, refused outside the delegation pool ${r.refused}` : ''})`;
}
