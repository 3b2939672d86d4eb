/** The rule model: CloudStack's rule text parsed and formatted 1:1, one clear line per bad rule. */
import { expect } from 'chai';
import fc from 'fast-check';
import { formatRule, fromCloudStackRules, ipv6Cidrs, parseRule, toCloudStackRules, SgRuleError } from './model.ts';

describe('security-group rule model', () => {
  it('parses the pod file rules and CloudStack forms', () => {
    expect(parseRule('I:tcp;22;22;::/0')).to.deep.equal({ direction: 'ingress', protocol: 'tcp', start: 22, end: 22, cidrs: ['::/0'] });
    expect(parseRule('E:icmp;128;-1;2001:db8::/32,10.0.0.0/8')).to.deep.equal({
      direction: 'egress',
      protocol: 'icmp',
      start: 128,
      end: -1,
      cidrs: ['2001:db8::/32', '10.0.0.0/8'],
    });
    expect(parseRule('I:all;0;0;fd00::/8').protocol).to.equal('all');
    expect(parseRule('I:47;0;0;fd00::/8').protocol).to.equal(47);
  });

  it('formats back to exactly the text it parsed (round trip, generated rules)', () => {
    const cidr = fc.constantFrom('::/0', '2001:db8::/32', 'fd76:3670:ffff::/48', '10.0.0.0/8', '2001:db8:100::1/128');
    const rule = fc.oneof(
      fc
        .tuple(fc.constantFrom('I', 'E'), fc.constantFrom('tcp', 'udp'), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }))
        .map(([d, p, a, b]) => `${d}:${p};${Math.min(a, b)};${Math.max(a, b)}`),
      fc
        .tuple(fc.constantFrom('I', 'E'), fc.constantFrom('icmp', 'icmpv6'), fc.integer({ min: 0, max: 255 }), fc.integer({ min: -1, max: 255 }))
        .map(([d, p, t, c]) => `${d}:${p};${t};${c}`),
      fc.tuple(fc.constantFrom('I', 'E'), fc.constantFrom('all', '47', '132')).map(([d, p]) => `${d}:${p};0;0`),
    );
    fc.assert(
      fc.property(rule, fc.array(cidr, { minLength: 1, maxLength: 3 }), (head, cidrs) => {
        const text = `${head};${cidrs.join(',')}`;
        expect(formatRule(parseRule(text))).to.equal(text);
      }),
    );
  });

  it("joins and splits security_group.py's --rules list (each rule followed by NEXT;)", () => {
    const rules = ['I:tcp;22;22;::/0', 'E:udp;53;53;2001:db8::/32'].map(parseRule);
    const text = toCloudStackRules(rules);
    expect(text).to.equal('I:tcp;22;22;::/0NEXT;E:udp;53;53;2001:db8::/32NEXT;');
    expect(fromCloudStackRules(text)).to.deep.equal(rules);
    expect(fromCloudStackRules('')).to.deep.equal([]);
  });

  it('rejects bad rules with one line naming the rule and the reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['X:tcp;22;22;::/0', /rule type 'X' must be I \(ingress\) or E \(egress\)/],
      ['I:sctp;22;22;::/0', /protocol 'sctp' must be tcp, udp, icmp, icmpv6, all or a number 0-255/],
      ['I:tcp;x;22;::/0', /start port 'x' is not a whole number/],
      ['I:tcp;80;22;::/0', /start port 80 is after end port 22/],
      ['I:udp;0;70000;::/0', /end port 70000 is outside 0-65535/],
      ['I:icmp;-1;3;::/0', /ICMP code 3 needs a type/],
      ['I:tcp;22;22;', /needs at least one CIDR/],
      ['I:tcp;22;22;2001:db8::/129', /'2001:db8::\/129' is not a CIDR/],
      ['I:tcp;22;::/0', /expected I\|E:protocol;start;end;cidr/],
    ];
    for (const [text, message] of cases) {
      let err: Error | undefined;
      try {
        parseRule(text);
      } catch (e) {
        err = e as Error;
      }
      expect(err, text).to.be.instanceOf(SgRuleError);
      expect(err!.message, text).to.match(message).and.not.include('\n');
      expect(err!.message).to.include(`'${text}'`);
    }
  });

  it('keeps IPv4 CIDRs for the round trip but matches only IPv6 ones', () => {
    expect(ipv6Cidrs(parseRule('I:tcp;22;22;10.0.0.0/8,::/0'))).to.deep.equal(['::/0']);
  });
});
