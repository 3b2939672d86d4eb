import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { policyDecisions } from './matrix-doc.ts';

const POLICY_DOC = new URL('../../docs/sg-policy.md', import.meta.url).pathname;
const START = /<!-- generated:start[^>]*-->\n/;
const END = '<!-- generated:end -->';

describe('docs/sg-policy.md', () => {
  it('holds every cell of the threat matrix with the rule that decides it, generated from the policy', () => {
    const doc = readFileSync(POLICY_DOC, 'utf8');
    const start = START.exec(doc);
    const end = doc.indexOf(END);
    expect(start, 'the generated:start marker').to.not.equal(null);
    expect(end, 'the generated:end marker').to.be.greaterThan(0);
    const head = doc.slice(0, start!.index + start![0].length);
    const rendered = `${head}${policyDecisions().join('\n').trimStart()}\n${doc.slice(end)}`;
    if (process.env.V6POD_UPDATE_DOCS === '1') writeFileSync(POLICY_DOC, rendered);
    expect(readFileSync(POLICY_DOC, 'utf8'), 'docs/sg-policy.md is stale: regenerate it (V6POD_UPDATE_DOCS=1)').to.equal(rendered);
  });
});
