/** Hand-made sample frames of the pod's key exchanges, shared by tests and benches. */
import type { Frame } from '../frame.ts';

export const SAMPLE_CLIENT_MAC = '52:54:00:12:34:56';
export const SAMPLE_ROUTER_MAC = '52:54:00:aa:00:01';

/** A router's Relay-Forward to Kea: hop 0, link-address in the pod /64, option 37 with the client MAC, a Solicit with IA_PD. */
export function sampleRelayForwardFrame(): Frame {
  return {
    ethernet: { dst: '52:54:00:bb:00:01', src: SAMPLE_ROUTER_MAC, etherType: 0x86dd },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: '2001:db8:1::1', dst: '2001:db8:ffff::547' },
    udp: { srcPort: 547, dstPort: 547 },
    dhcpv6: {
      type: 'relay-forward',
      hopCount: 0,
      linkAddress: '2001:db8:100::1',
      peerAddress: 'fe80::5054:ff:fe12:3456',
      options: [
        { type: 'interface-id', id: Buffer.from('eth0') },
        { type: 'remote-id', enterpriseNumber: 4491, remoteId: SAMPLE_CLIENT_MAC },
        {
          type: 'relay-message',
          message: {
            type: 'solicit',
            transactionId: 0x1a2b3c,
            options: [
              { type: 'client-id', duid: { type: 'll', hardwareType: 1, linkLayerAddress: SAMPLE_CLIENT_MAC } },
              { type: 'elapsed-time', centiseconds: 0 },
              { type: 'oro', requested: [23, 24] },
              { type: 'ia-pd', iaid: 1, t1: 0, t2: 0, options: [] },
            ],
          },
        },
      ],
    },
  };
}
