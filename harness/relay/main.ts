/**
 * The relay daemon: `node --import tsx harness/relay/main.ts --config FILE`, run inside a router's
 * namespace by netns/daemons/relay.ts. Reconciles its routes with Kea, then relays until SIGTERM,
 * when it saves its route table and exits (routes stay in the kernel: leases outlive the relay).
 */
import { loadRelayConfig } from './config.ts';
import { Counters } from './counters.ts';
import { RouteTable } from './routes.ts';
import { NetlinkRoutes } from './route-netlink.ts';
import { fetchLeases, reconcile } from './reconcile.ts';
import { RelayAgent } from './relay-agent.ts';
import { LanPort } from './lan-port.ts';
import { ServerPort } from './server-port.ts';
import { handleCommand } from './control.ts';
import { serveControl } from '../os/control-socket.ts';

const EXPIRY_SWEEP_MS = 1000;
/** How often the relay looks for binding exchanges answered through the other router only (lease-repair.ts). */
const REPAIR_TICK_MS = 500;
/** Route changes wait this long to share one netlink send (a route lands a few ms after its Reply). */
const ROUTE_COALESCE_MS = 5;

const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);

const i = process.argv.indexOf('--config');
const file = i > 0 ? process.argv[i + 1] : undefined;
if (!file) {
  process.stderr.write('usage: main.ts --config FILE\n');
  process.exit(2);
}
const cfg = loadRelayConfig(file);
const counters = new Counters();
const writer = new NetlinkRoutes(cfg.lanInterface, cfg.routeProtocol, { coalesceMs: ROUTE_COALESCE_MS });
const routes = new RouteTable(writer, { dev: cfg.lanInterface, protocol: cfg.routeProtocol, stateFile: cfg.stateFile }, counters, log);

log("reconciling routes with Kea's leases");
const report = await reconcile(cfg, routes, log);
log(
  `reconciled: ${report.leases} active PD lease(s), ${report.kept} route(s) kept, ${report.removed} stray removed${report.unknownVia.length ? `, no link-local known for ${report.unknownVia.join(' ')}` : ''}`,
);

// The ports open one after the other; a message arriving before the other side is open is not relayed.
const open: { lan?: LanPort; server?: ServerPort } = {};
const agent = new RelayAgent(
  cfg,
  counters,
  { forward: (s, wire) => open.server?.send(s, wire), deliver: (p, mac, wire) => open.lan?.deliver(p, mac, wire) },
  routes,
  log,
);
open.server = await ServerPort.open(cfg.serviceAddress, (payload, from) => agent.fromServer(payload, from));
open.lan = await LanPort.open(
  cfg,
  (frame) => agent.fromClient(frame),
  (err) => {
    // Without its LAN socket the relay relays nothing: exit, so the failure shows (v6pod status, the log).
    process.stderr.write(`dhcp6-relay: the LAN socket on ${cfg.lanInterface} failed: ${err.message}\n`);
    process.exit(1);
  },
);
const sweep = setInterval(() => routes.expire().catch((err: Error) => log(`expiry failed: ${err.message}`)), EXPIRY_SWEEP_MS);
const keaSocket = cfg.keaSocket;
const repair = keaSocket
  ? setInterval(() => agent.repairRoutes(() => fetchLeases(keaSocket)).catch((err: Error) => log(`route repair failed: ${err.message}`)), REPAIR_TICK_MS)
  : undefined;
const control = await serveControl(cfg.controlSocket, (request) => handleCommand(request, counters, routes)).catch((err: Error) => {
  // One line in the relay's log, which v6pod quotes when the relay does not come up.
  process.stderr.write(`dhcp6-relay: cannot serve its control socket ${cfg.controlSocket}: ${err.message}\n`);
  process.exit(1);
});
log(`relaying on ${cfg.lanInterface} (link-address ${cfg.linkAddress}) to ${cfg.servers.join(', ')} from ${cfg.serviceAddress}`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(sweep);
  clearInterval(repair);
  open.lan?.close();
  open.server?.close();
  control.close();
  routes.persist();
  await writer.close();
  log(`stopped (${signal})`);
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
