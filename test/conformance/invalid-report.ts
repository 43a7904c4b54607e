/** The invalid-model report: each betsy constraint file, the constraint it violates, and Duban's refusal. */
import type { BetsyReport } from './betsy.js';

export function invalidReport(report: BetsyReport, _dir: string): string {
  const lines = ['# betsy invalid models: the constraint each file violates, and what Duban said', ''];
  for (const c of report.constraints) lines.push(`| ${c.id} | ${c.refused ? c.reason : 'ACCEPTED'} |`);
  return `${lines.join('\n')}\n`;
}
