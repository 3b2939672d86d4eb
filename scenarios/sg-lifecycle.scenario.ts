/**
 * Security groups follow the instance lifecycle (seed: "When an Instance is deployed we pick a new
 * /60 … We also allow this /60 in the Security Group of the Instance"): the real deploy and destroy
 * (`v6pod vm deploy|destroy`, not a re-rendered model) make a delegated prefix a source at once, and
 * a source for nobody once the instance is gone.
 */
import { expect } from 'chai';
import {
  datagramToCore,
  destroyVm,
  expectDelivered,
  expectDropped,
  groupsAdmittingSource,
  hypervisors,
  instance,
  scenario,
  withVm,
} from '../harness/probe/api.ts';
import { Prefix } from '../harness/addr/prefix.ts';

describe('SG: security groups — instance lifecycle', () => {
  scenario(
    {
      id: 'SG-017',
      title: "a newly deployed instance's delegated prefix is a source at once; after `vm destroy` no group admits it and a frame from it is dropped",
      reference:
        'seed: "When an Instance is deployed we pick a new /60 … We also allow this /60 in the Security Group of the Instance"; "accepted as source after deploy and refused after destroy"',
      proves:
        'the group follows the real lifecycle (deployInstance/destroyInstance, not a re-rendered model): the reserved prefix is a valid source from the first frame, and once the instance is destroyed no port on any hypervisor may use it',
    },
    async () => {
      // How the refusal is proved: after destroy the instance's port and namespace are gone, so no
      // frame can come "from" it any more. What must hold is that the prefix is a valid source for
      // nobody: (1) in the kernel, no source set on any hypervisor admits it (the reference driver's
      // sets, read back), and (2) on the wire, a frame using it from vm1 — on the same hypervisor,
      // whose group never held it — is dropped by source-spoof, with vm1's own frame as control.
      // Destroy quarantines the prefix, so no new reservation re-uses it to mask the result.

      // Set up: sg17 deployed on hv1 with one delegated prefix.
      await withVm('sg17', { hypervisor: 'hv1', prefixes: 1 }, async ({ instance: sg17, prefixes }) => {
        expect(prefixes, 'sg17 reservation').to.have.length(1);
        const inPrefix = Prefix.parse(prefixes[0]!).address(1n);

        // Pass criteria (deployed): sg17's group alone admits the prefix on hv1, and sg17's first
        // datagram from it leaves hv1.
        const admitting = await groupsAdmittingSource(inPrefix, 'hv1');
        if (admitting) expect(admitting, `groups on hv1 admitting ${inPrefix}`).to.deep.equal(['sg17']);
        await expectDelivered(datagramToCore(sg17, { src: inPrefix }), { from: sg17 });

        // Act: `vm destroy sg17`.
        await destroyVm('sg17');

        // Pass criteria (destroyed): no group on any hypervisor admits the prefix, and vm1's datagram
        // from it is dropped at vm1's port while vm1's own crosses (rule source-spoof).
        for (const hv of hypervisors()) {
          const after = await groupsAdmittingSource(inPrefix, hv);
          if (after) expect(after, `groups on ${hv} admitting ${inPrefix} after destroy`).to.deep.equal([]);
        }
        const vm1 = instance('vm1');
        await expectDropped(datagramToCore(vm1, { src: inPrefix }), { from: vm1, control: datagramToCore(vm1), rule: 'source-spoof' });
      });
    },
  );
});
