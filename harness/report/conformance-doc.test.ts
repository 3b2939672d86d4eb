import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { CONFORMANCE_DOC, loadScenarioMetadata, renderConformanceDoc } from './conformance-doc.ts';

describe('docs/conformance.md', () => {
  it('is generated from the scenario metadata and up to date', async () => {
    const metas = await loadScenarioMetadata();
    expect(metas.length, 'scenarios found').to.be.greaterThan(0);
    const ids = metas.map((m) => m.id);
    expect(new Set(ids).size, `duplicate scenario IDs in ${ids.join(', ')}`).to.equal(ids.length);
    for (const m of metas) expect(m.reference.trim(), `${m.id} reference`).to.not.equal('');
    const rendered = renderConformanceDoc(metas);
    if (process.env.V6POD_UPDATE_DOCS === '1') writeFileSync(CONFORMANCE_DOC, rendered);
    expect(readFileSync(CONFORMANCE_DOC, 'utf8'), 'docs/conformance.md is stale: regenerate it (V6POD_UPDATE_DOCS=1)').to.equal(rendered);
  });
});
