/**
 * The relay's unix control socket. It speaks Kea's control-socket dialect (one JSON command in,
 * one JSON answer out, `result` 0 on success), so netns/daemons/kea.ts's keaCommand is its client:
 *   counters                 received/sent per message type, drops per reason, routes
 *   routes                   the delegated routes held (prefix, via, mac, expiry)
 *   drop-routes {mac}        removes the routes delegated to that MAC (`vm destroy`: no Release will come)
 *   list-commands
 */
import { createServer, type Server } from 'node:net';
import { rmSync } from 'node:fs';
import type { Counters } from './counters.ts';
import type { RouteTable } from './routes.ts';

export interface ControlAnswer {
  result: number;
  text?: string;
  arguments?: Record<string, unknown>;
}

export const RELAY_COMMANDS = ['counters', 'routes', 'drop-routes', 'list-commands'] as const;
const MAX_REQUEST_BYTES = 64 * 1024;

export async function handleCommand(request: { command?: unknown; arguments?: Record<string, unknown> }, counters: Counters, routes: RouteTable): Promise<ControlAnswer> {
  switch (request.command) {
    case 'counters':
      return { result: 0, arguments: { ...counters.snapshot() } };
    case 'routes':
      return { result: 0, arguments: { routes: routes.list() } };
    case 'drop-routes': {
      const mac = request.arguments?.mac;
      if (typeof mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac)) return { result: 1, text: "drop-routes needs arguments.mac ('aa:bb:cc:dd:ee:ff')" };
      const removed = await routes.removeByMac(mac);
      return { result: 0, text: `${removed.length} route(s) removed`, arguments: { removed } };
    }
    case 'list-commands':
      return { result: 0, arguments: { commands: [...RELAY_COMMANDS] } };
    default:
      return { result: 2, text: `unknown command '${String(request.command)}'` };
  }
}

export async function serveControl(path: string, counters: Counters, routes: RouteTable): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((conn) => {
    let data = '';
    conn.setEncoding('utf8').on('data', (d: string) => {
      data += d;
      if (data.length > MAX_REQUEST_BYTES) return conn.end(`${JSON.stringify({ result: 1, text: 'request too large' })}\n`);
      let request;
      try {
        request = JSON.parse(data) as Parameters<typeof handleCommand>[0];
      } catch {
        return; // an incomplete JSON document: wait for more
      }
      handleCommand(request, counters, routes).then(
        (answer) => conn.end(`${JSON.stringify(answer)}\n`),
        (err: Error) => conn.end(`${JSON.stringify({ result: 1, text: err.message })}\n`),
      );
    });
    conn.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}
