import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { POD_SCHEMA_AJV_OPTIONS, POD_SCHEMA_VALIDATOR, renderPodSchemaValidator } from './pod-schema-codegen.ts';
import validate from './pod-schema.validator.js';
import { podSchema } from './pod-schema.ts';

describe('harness/pod/pod-schema.validator.js', () => {
  it('is generated from pod-schema.ts and up to date', () => {
    const rendered = renderPodSchemaValidator();
    if (process.env.V6POD_UPDATE_DOCS === '1') writeFileSync(POD_SCHEMA_VALIDATOR, rendered);
    expect(readFileSync(POD_SCHEMA_VALIDATOR, 'utf8'), 'pod-schema.validator.js is stale: regenerate it (V6POD_UPDATE_DOCS=1)').to.equal(rendered);
  });

  it('judges as ajv compiling the schema does: the same errors and the same defaults filled in', () => {
    const compiled = new Ajv(POD_SCHEMA_AJV_OPTIONS).compile(podSchema);
    const cases: unknown[] = [
      { name: 'p', pod: { l2Prefix: '2001:db8:100::/64', pdPool: '2001:db8:200::/40' }, hypervisors: [{ name: 'hv1', instances: [{ name: 'vm1' }] }] },
      { name: 'Bad Name', pod: { l2Prefix: 7 }, hypervisors: 'none', extra: true },
      {
        name: 'p',
        pod: { l2Prefix: '2001:db8:100::/64', pdPool: '2001:db8:200::/40', delegatedLength: 'sixty' },
        hypervisors: [{ name: 'hv1', instances: [{ name: 'vm1', mac: 'zz' }] }],
      },
      [],
    ];
    for (const c of cases) {
      const [a, b] = [structuredClone(c), structuredClone(c)];
      const verdict = [validate(a), compiled(b)];
      expect(verdict[0], JSON.stringify(c)).to.equal(verdict[1]);
      const strip = (errs: typeof compiled.errors) =>
        (errs ?? []).map(({ instancePath, keyword, params, message }) => ({ instancePath, keyword, params, message }));
      expect(strip(validate.errors), JSON.stringify(c)).to.deep.equal(strip(compiled.errors));
      expect(a, 'defaults filled in').to.deep.equal(b);
    }
    expect(cases.map((c) => validate(structuredClone(c)))).to.deep.equal([true, false, false, false]);
  });
});
