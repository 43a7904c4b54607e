/**
 * betsy BPMN conformance through the durable engine (see betsy.ts), held to a recorded baseline:
 * the score may rise, never fall, and no test that passed may fail.
 *
 *   BETSY_WRITE=1     also write test/conformance/betsy-results.json (per-case results, committed)
 *   BETSY_BASELINE=1  also rewrite test/conformance/betsy-baseline.json from this run (after an improvement)
 *   BETSY_DIR=…       the suite (default ../shared/conformance/betsy from the repository root)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { betsyDir, runBetsy, type BetsyReport } from './betsy.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const baselineFile = path.join(here, 'betsy-baseline.json');
const resultsFile = path.join(here, 'betsy-results.json');

/** What plain bpmn-engine 25.0.1 passed in memory, "configured" profile (suite README). */
const REFERENCE_PASSED = 84;

interface Baseline {
  executionPassed: number;
  executionTests: number;
  casesPassed: number;
  cases: number;
  constraintsRefused: number;
  constraints: number;
  passed: string[];
  refused: string[];
}

test('betsy conformance through the durable engine', { timeout: 170_000 }, async () => {
  const dir = betsyDir();
  assert.ok(existsSync(path.join(dir, 'suite.json')), `the betsy suite is not at ${dir}: set BETSY_DIR`);

  const report = await runBetsy({ dir });
  console.log(summaryTable(report));

  if (process.env.BETSY_WRITE === '1') writeFileSync(resultsFile, `${JSON.stringify(report, null, 1)}\n`);
  if (process.env.BETSY_BASELINE === '1') writeFileSync(baselineFile, `${JSON.stringify(toBaseline(report), null, 1)}\n`);

  const baseline = JSON.parse(readFileSync(baselineFile, 'utf8')) as Baseline;
  const { total, constraints } = report.summary;
  const passedIds = new Set(report.tests.filter((t) => t.passed).map((t) => t.id));
  const lost = baseline.passed.filter((id) => !passedIds.has(id));
  const gained = [...passedIds].filter((id) => !baseline.passed.includes(id));
  if (gained.length) console.log(`newly passing (record them with BETSY_BASELINE=1): ${gained.join(', ')}`);
  const refusedIds = new Set(report.constraints.filter((c) => c.refused).map((c) => c.id));
  const accepted = baseline.refused.filter((id) => !refusedIds.has(id));
  if (accepted.length) console.log(`constraint files no longer refused: ${accepted.join(', ')}`);

  assert.deepEqual(lost, [], `tests that passed in the baseline now fail:\n${lost.map((id) => `  ${id}: ${failure(report, id)}`).join('\n')}`);
  assert.ok(total.testsPassed >= baseline.executionPassed, `execution tests passed: ${total.testsPassed} < baseline ${baseline.executionPassed}`);
  assert.ok(total.testsPassed >= REFERENCE_PASSED, `execution tests passed: ${total.testsPassed} < bpmn-engine's ${REFERENCE_PASSED}`);
  assert.ok(constraints.refused >= baseline.constraintsRefused, `constraint files refused: ${constraints.refused} < baseline ${baseline.constraintsRefused}`);
});

function toBaseline(report: BetsyReport): Baseline {
  return {
    executionPassed: report.summary.total.testsPassed,
    executionTests: report.summary.total.tests,
    casesPassed: report.summary.total.casesPassed,
    cases: report.summary.total.cases,
    constraintsRefused: report.summary.constraints.refused,
    constraints: report.summary.constraints.files,
    passed: report.tests.filter((t) => t.passed).map((t) => t.id).sort(),
    refused: report.constraints.filter((c) => c.refused).map((c) => c.id).sort(),
  };
}

function failure(report: BetsyReport, id: string): string {
  const t = report.tests.find((x) => x.id === id);
  if (!t) return 'not run';
  return t.cases.filter((c) => !c.passed)
    .map((c) => `#${c.number} expected [${c.expected.join(', ')}] observed [${c.observed.join(', ')}]${c.reason ? ` (${c.reason})` : ''}`)
    .join('; ');
}

function summaryTable(report: BetsyReport): string {
  const { groups, total, relevance, constraints } = report.summary;
  const rows: string[][] = [['group', 'tests passed', 'cases passed']];
  for (const [name, g] of Object.entries(groups)) rows.push([name, `${g.testsPassed}/${g.tests}`, `${g.casesPassed}/${g.cases}`]);
  rows.push(['total', `${total.testsPassed}/${total.tests}`, `${total.casesPassed}/${total.cases}`]);
  for (const [name, r] of Object.entries(relevance)) rows.push([`  relevance ${name}`, `${r.testsPassed}/${r.tests}`, '']);
  rows.push(['bpmn_constraints refused', `${constraints.refused}/${constraints.files}`, '']);
  for (const [source, n] of Object.entries(constraints.bySource).sort((a, b) => b[1] - a[1])) rows.push([`  by ${source} checks`, String(n), '']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [`betsy conformance (durable engine, ${(report.runtimeMs / 1000).toFixed(1)} s)`, ...rows.map(line)].join('\n');
}
