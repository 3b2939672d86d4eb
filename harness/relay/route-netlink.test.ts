/**
 * The relay's rtnetlink route messages are the bytes `ip` sends for the same commands (captured
 * with strace from iproute2 6.1: `ip route replace 2001:db8:200:10::/60 via fe80::1 dev va proto
 * 201 expires 3600` and `ip route del 2001:db8:200:10::/60 dev va proto 201`, va being ifindex 3),
 * only the acknowledgement asked for once per send; and the kernel's answers are read back to the
 * changes they belong to.
 */
import { expect } from 'chai';
import { encodeRouteChanges, errnoText, readRouteAnswers } from './route-netlink.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
// After the 16-byte header (length, type, flags, seq, pid): ip's request bodies.
const IP_REPLACE_BODY = hex(`0a3c0000 fec90001 00000000
  14000100 20010db8 02000010 00000000 00000000
  14000500 fe800000 00000000 00000000 00000001
  08001700 100e0000
  08000400 03000000`);
const IP_DELETE_BODY = hex(`0a3c0000 fec90000 00000000
  14000100 20010db8 02000010 00000000 00000000
  08000400 03000000`);

const header = (msg: Buffer, at = 0) => ({
  length: msg.readUInt32LE(at),
  type: msg.readUInt16LE(at + 4),
  flags: msg.readUInt16LE(at + 6),
  seq: msg.readUInt32LE(at + 8),
  pid: msg.readUInt32LE(at + 12),
});

/** An NLMSG_ERROR answer (capped: no echoed request) to `seq` with `errno` (0: an acknowledgement). */
function answer(seq: number, errno: number): Buffer {
  const b = Buffer.alloc(36);
  b.writeUInt32LE(36, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(0x100, 6); // NLM_F_CAPPED
  b.writeUInt32LE(seq, 8);
  b.writeInt32LE(-errno, 16);
  return b;
}

describe('route netlink messages (route-netlink.ts)', () => {
  const opts = { ifindex: 3, protocol: 201, seq: 77 };

  it('encodes a replace as ip does: RTM_NEWROUTE create|replace, main table, unicast, dst, gateway, expires, oif', () => {
    const msg = encodeRouteChanges([{ op: 'replace', prefix: '2001:db8:200:10::/60', via: 'fe80::1', expiresS: 3600 }], opts);
    expect(header(msg)).to.deep.equal({ length: 84, type: 24, flags: 0x505, seq: 77, pid: 0 });
    expect(msg.subarray(16).toString('hex')).to.equal(IP_REPLACE_BODY.toString('hex'));
  });

  it('encodes a delete as ip does: RTM_DELROUTE, main table, protocol, dst, oif', () => {
    const msg = encodeRouteChanges([{ op: 'delete', prefix: '2001:db8:200:10::/60' }], opts);
    expect(header(msg)).to.deep.equal({ length: 56, type: 25, flags: 0x005, seq: 77, pid: 0 });
    expect(msg.subarray(16).toString('hex')).to.equal(IP_DELETE_BODY.toString('hex'));
  });

  it('leaves expires out for an infinite lifetime, and asks for an acknowledgement on the last message only', () => {
    const msg = encodeRouteChanges(
      [
        { op: 'replace', prefix: '2001:db8:200:20::/60', via: 'fe80::2', expiresS: null },
        { op: 'delete', prefix: '2001:db8:200:10::/60' },
        { op: 'replace', prefix: '2001:db8:200:30::/56', via: 'fe80::3', expiresS: 10 },
      ],
      { ...opts, seq: 0xffffffff },
    );
    expect(msg.length).to.equal(76 + 56 + 84);
    expect([header(msg, 0), header(msg, 76), header(msg, 132)]).to.deep.equal([
      { length: 76, type: 24, flags: 0x501, seq: 0xffffffff, pid: 0 },
      { length: 56, type: 25, flags: 0x001, seq: 0, pid: 0 },
      { length: 84, type: 24, flags: 0x505, seq: 1, pid: 0 },
    ]);
    // dst_len of each, and the gateway of the first.
    expect([msg[17], msg[76 + 17], msg[132 + 17]]).to.deep.equal([60, 60, 56]);
    expect(msg.subarray(16 + 12 + 20 + 4, 16 + 12 + 40).toString('hex')).to.equal('fe800000000000000000000000000002');
  });

  it('reads the failures back to their changes, complete once the last change is answered', () => {
    const answers = Buffer.concat([answer(11, 3), answer(13, 101), answer(14, 0)]);
    expect(readRouteAnswers(answers, 10, 5)).to.deep.equal({
      failed: [
        { index: 1, errno: 3 },
        { index: 3, errno: 101 },
      ],
      complete: true,
    });
    expect(readRouteAnswers(answers.subarray(0, 72), 10, 5).complete).to.equal(false);
    // The last change failing is its only answer.
    expect(readRouteAnswers(answer(14, 17), 10, 5)).to.deep.equal({ failed: [{ index: 4, errno: 17 }], complete: true });
    // Answers to other sequence numbers (and across the 32-bit wrap) are placed by their distance.
    expect(readRouteAnswers(Buffer.concat([answer(9, 3), answer(0, 3)]), 0xffffffff, 2)).to.deep.equal({ failed: [{ index: 1, errno: 3 }], complete: true });
  });

  it("words errors as ip does (libuv's messages: glibc's for the usual ones)", () => {
    expect(errnoText(3)).to.equal('RTNETLINK answers: No such process');
    expect(errnoText(22)).to.equal('RTNETLINK answers: Invalid argument');
  });
});
