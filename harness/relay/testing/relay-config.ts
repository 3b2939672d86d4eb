/** The relay config the relay's unit tests share: r1 of the seed's pod, paths that are never opened. */
import { RELAY_DEFAULTS, type RelayConfig } from '../config.ts';

export function testRelayConfig(over: Partial<RelayConfig> = {}): RelayConfig {
  return {
    ...RELAY_DEFAULTS,
    router: 'r1',
    routerMac: '00:0c:db:f9:cf:00',
    linkAddress: '2001:db8:100::1',
    delegationPool: '2001:db8:200::/40',
    linkLocal: 'fe80::20c:dbff:fef9:cf00',
    serviceAddress: 'fd76:3670:ffff:547::1',
    servers: ['fd76:3670:ffff:547::547'],
    stateFile: '/nonexistent',
    controlSocket: '/nonexistent',
    ...over,
  };
}
