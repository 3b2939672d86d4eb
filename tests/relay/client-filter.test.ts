/**
 * The relay's kernel filter is the program libpcap compiles for the capture expression it
 * replaces (tcpdump -dd prints libpcap's compilation), for MACs with all kinds of bytes.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { parseTcpdumpDd } from '../../harness/io/packet-socket.ts';
import { clientMessageFilter } from '../../harness/relay/client-filter.ts';

describe('relay LAN socket filter (client-filter.ts)', () => {
  for (const mac of ['00:0c:db:f9:cf:00', '00:12:f2:9c:33:00', 'ff:ff:ff:ff:ff:fe', '02:00:00:00:00:01']) {
    it(`equals libpcap's 'ip6 and udp dst port 547 and not ether src ${mac}'`, () => {
      const dd = execFileSync('tcpdump', ['-y', 'EN10MB', '-dd', `ip6 and udp dst port 547 and not ether src ${mac}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      expect(clientMessageFilter(mac)).to.deep.equal(parseTcpdumpDd(dd));
    });
  }
});
