/**
 * The relay's control commands (served by harness/os/control-socket.ts, Kea's dialect):
 *   counters                 received/sent per message type, drops per reason, routes
 *   routes                   the delegated routes held (prefix, via, mac, expiry)
 *   drop-routes {mac}        removes the routes delegated to that MAC (`vm destroy`: no Release will come)
 *   list-commands
 */
import type { ControlAnswer, ControlRequest } from '../os/control-socket.ts';
import type { Counters } from './counters.ts';
import type { RouteTable } from './routes.ts';
import { CONTROL_RESULT } from '../os/control-socket.ts';

export const RELAY_COMMANDS = ['counters', 'routes', 'drop-routes', 'list-commands'] as const;

export async function handleCommand(request: ControlRequest, counters: Counters, routes: RouteTable): Promise<ControlAnswer> {
  switch (request.command) {
    case 'counters':
      return { result: 0, arguments: { ...counters.snapshot() } };
    case 'routes':
      return { result: 0, arguments: { routes: routes.list() } };
    case 'drop-routes': {
      const mac = request.arguments?.mac;
      if (typeof mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac))
        return { result: CONTROL_RESULT.error, text: "drop-routes needs arguments.mac ('aa:bb:cc:dd:ee:ff')" };
      const removed = await routes.removeByMac(mac);
      return { result: 0, text: `${removed.length} route(s) removed`, arguments: { removed } };
    }
    case 'list-commands':
      return { result: 0, arguments: { commands: [...RELAY_COMMANDS] } };
    default:
      return { result: CONTROL_RESULT.unsupported, text: `unknown command '${String(request.command)}'` };
  }
}
