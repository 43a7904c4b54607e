/**
 * betsy BPMN conformance through the durable engine (see betsy.ts), in both modes (direct and
 * recovery-stress), held to a recorded baseline: the score may rise, never fall, and no test that
 * passed may fail. Writes the invalid-model report (invalid-report.md) beside it.
 *
 *   BETSY_WRITE=1     also write test/conformance/betsy-results.json and invalid-report.md (committed)
 *   BETSY_BASELINE=1  also rewrite test/conformance/betsy-baseline.json from this run (after an improvement)
 *   BETSY_ONLY=regex  run only the tests whose id matches (no baseline check; for working on a case)
 *   BETSY_LOG=1       print every case's result
 *   BETSY_DIR=…       the suite (default: the vendored copy in test/conformance/betsy)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { betsyDir, runBetsy, type BetsyReport } from './betsy.js';
import { invalidReport } from './invalid-report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const baselineFile = path.join(here, 'betsy-baseline.json');
const resultsFile = path.join(here, 'betsy-results.json');
const invalidReportFile = path.join(here, 'invalid-report.md');

interface Baseline {
  /** Tests that pass in both modes. */
  executionPassed: number;
  executionTests: number;
  casesPassed: number;
  cases: number;
  byMode: BetsyReport['summary']['byMode'];
  constraintsRefused: number;
  /** Refused with a first problem that names an element. */
  constraintsRefusedNamingElement: number;
  constraints: number;
  passed: string[];
  refused: string[];
}

test('betsy conformance through the durable engine and the production scheduler', { timeout: 600_000 }, async () => {
  const dir = betsyDir();
  assert.ok(existsSync(path.join(dir, 'suite.json')), `the betsy suite is not at ${dir}`);
  const onlyRe = process.env.BETSY_ONLY ? new RegExp(process.env.BETSY_ONLY) : undefined;

  const report = await runBetsy({
    dir,
    ...(onlyRe ? { only: (id: string) => onlyRe.test(id) } : {}),
    ...(process.env.BETSY_LOG === '1' ? { log: (line: string) => console.log(line) } : {}),
  });
  console.log(summaryTable(report));
  if (onlyRe) return;

  if (process.env.BETSY_WRITE === '1') {
    writeFileSync(resultsFile, `${JSON.stringify(report, null, 1)}\n`);
    writeFileSync(invalidReportFile, invalidReport(report, dir));
  }
  if (process.env.BETSY_BASELINE === '1') writeFileSync(baselineFile, `${JSON.stringify(toBaseline(report), null, 1)}\n`);

  const baseline = JSON.parse(readFileSync(baselineFile, 'utf8')) as Baseline;
  const { total, constraints } = report.summary;
  const passedIds = new Set(report.tests.filter((t) => t.passed).map((t) => t.id));
  const lost = baseline.passed.filter((id) => !passedIds.has(id));
  const gained = [...passedIds].filter((id) => !baseline.passed.includes(id));
  if (gained.length) console.log(`newly passing (record them with BETSY_BASELINE=1): ${gained.join(', ')}`);
  const refusedIds = new Set(report.constraints.filter((c) => c.refused).map((c) => c.id));
  const accepted = baseline.refused.filter((id) => !refusedIds.has(id));

  assert.deepEqual(lost, [], `tests that passed in the baseline now fail:\n${lost.map((id) => `  ${id}: ${failure(report, id)}`).join('\n')}`);
  assert.ok(total.testsPassed >= baseline.executionPassed, `execution tests passed in both modes: ${total.testsPassed} < baseline ${baseline.executionPassed}`);
  assert.deepEqual(accepted, [], `constraint files the baseline refused are now accepted: ${accepted.join(', ')}`);
  assert.ok(constraints.refused >= baseline.constraintsRefused, `constraint files refused: ${constraints.refused} < baseline ${baseline.constraintsRefused}`);
  assert.ok(constraints.refusedNamingElement >= baseline.constraintsRefusedNamingElement,
    `constraint files refused naming an element: ${constraints.refusedNamingElement} < baseline ${baseline.constraintsRefusedNamingElement}`);
});

function toBaseline(report: BetsyReport): Baseline {
  return {
    executionPassed: report.summary.total.testsPassed,
    executionTests: report.summary.total.tests,
    casesPassed: report.summary.total.casesPassed,
    cases: report.summary.total.cases,
    byMode: report.summary.byMode,
    constraintsRefused: report.summary.constraints.refused,
    constraintsRefusedNamingElement: report.summary.constraints.refusedNamingElement,
    constraints: report.summary.constraints.files,
    passed: report.tests.filter((t) => t.passed).map((t) => t.id).sort(),
    refused: report.constraints.filter((c) => c.refused).map((c) => c.id).sort(),
  };
}

function failure(report: BetsyReport, id: string): string {
  const t = report.tests.find((x) => x.id === id);
  if (!t) return 'not run';
  return t.cases.filter((c) => !c.passed)
    .map((c) => `[${c.mode}] #${c.number} expected [${c.expected.join(', ')}] observed [${c.observed.join(', ')}] (${c.outcome}${c.reason ? `: ${c.reason}` : ''})`)
    .join('; ');
}

function summaryTable(report: BetsyReport): string {
  const { groups, total, byMode, relevance, constraints } = report.summary;
  const rows: string[][] = [['group', 'tests passed', 'cases passed']];
  for (const [name, g] of Object.entries(groups)) rows.push([name, `${g.testsPassed}/${g.tests}`, `${g.casesPassed}/${g.cases}`]);
  rows.push(['total (both modes)', `${total.testsPassed}/${total.tests}`, `${total.casesPassed}/${total.cases}`]);
  for (const [mode, m] of Object.entries(byMode)) rows.push([`  ${mode} mode alone`, `${m!.testsPassed}/${total.tests}`, `${m!.casesPassed}/${total.cases}`]);
  for (const [name, r] of Object.entries(relevance)) rows.push([`  relevance ${name}`, `${r.testsPassed}/${r.tests}`, '']);
  rows.push(['bpmn_constraints refused', `${constraints.refused}/${constraints.files}`, '']);
  rows.push(['  naming an element', `${constraints.refusedNamingElement}/${constraints.files}`, '']);
  for (const [source, n] of Object.entries(constraints.bySource).sort((a, b) => b[1] - a[1])) rows.push([`  by ${source} checks`, String(n), '']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [`betsy conformance (durable engine, production scheduler, ${(report.runtimeMs / 1000).toFixed(1)} s)`, ...rows.map(line)].join('\n');
}
