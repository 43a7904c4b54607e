import { AlignmentType, BorderStyle, Document, LineRuleType, Packer, Paragraph, TextRun, convertMillimetersToTwip } from 'docx';
import { chineseDate, dayString, type LetterRow } from './letters.js';

/**
 * A letter laid out after GB/T 9704-2012 信函格式: A4, the issuing office's name in red at the top over a
 * red double line (thick above thin), the 文号 flush right under it, the title in 2号小标宋, the addressee
 * flush left, the body in 3号仿宋 with 2-character indents and 一、二、 headings in 黑体, the office and the
 * date (Arabic numerals) at the right, and 抄送 at the bottom between thin lines.
 */
const FONT = { title: '方正小标宋简体', body: '仿宋_GB2312', heading: '黑体' };
const SIZE = { mark: 60, title: 44, body: 32, small: 28 }; // half-points: 30 pt, 2号 22 pt, 3号 16 pt, 4号 14 pt
const RED = 'E60012';
const LINE = { line: 580, lineRule: LineRuleType.EXACT }; // 29 pt: 22 lines per page in the 225 mm text block
const INDENT = { firstLine: 640 }; // two characters of 3号

export interface LetterSection {
  heading: string;
  text: string;
}

/** The body's four parts, in order: 问题来源, 存在的问题, 原因分析和建议措施, 回复时限. */
export function letterSections(l: LetterRow): LetterSection[] {
  return [
    { heading: '一、问题来源', text: l.source },
    { heading: '二、存在的问题', text: l.problems },
    { heading: '三、原因分析和建议措施', text: l.recommendations },
    { heading: '四、回复时限', text: `请于${chineseDate(new Date(l.reply_by))}前将整改落实情况书面回复${l.office}。` },
  ];
}

function run(text: string, font: string, size: number, extra: { bold?: boolean; color?: string } = {}): TextRun {
  return new TextRun({ text, font: { eastAsia: font, ascii: font, hAnsi: font }, size, ...extra });
}

function bodyParagraphs(text: string): Paragraph[] {
  return text.split(/\r?\n/).filter((s) => s.trim()).map((s) => new Paragraph({ indent: INDENT, spacing: LINE, children: [run(s.trim(), FONT.body, SIZE.body)] }));
}

export async function letterDocx(l: LetterRow): Promise<Buffer> {
  const children: Paragraph[] = [
    new Paragraph({ alignment: AlignmentType.CENTER, spacing: { after: 120 }, children: [run(l.office, FONT.title, SIZE.mark, { color: RED })] }),
    // 武文线: the red double line (thick over thin) under the office's name.
    new Paragraph({ border: { bottom: { style: BorderStyle.THICK_THIN_SMALL_GAP, size: 24, color: RED, space: 1 } }, children: [] }),
    new Paragraph({ alignment: AlignmentType.RIGHT, spacing: { before: 200, ...LINE }, children: [run(l.number, FONT.body, SIZE.body)] }),
    new Paragraph({ alignment: AlignmentType.CENTER, spacing: { before: 400, after: 400, line: 700, lineRule: LineRuleType.EXACT }, children: [run(l.title, FONT.title, SIZE.title)] }),
    new Paragraph({ spacing: LINE, children: [run(`${l.recipient}:`, FONT.body, SIZE.body)] }),
  ];
  for (const s of letterSections(l)) {
    children.push(new Paragraph({ indent: INDENT, spacing: LINE, children: [run(s.heading, FONT.heading, SIZE.body)] }), ...bodyParagraphs(s.text));
  }
  children.push(
    new Paragraph({ spacing: { before: 600, ...LINE }, alignment: AlignmentType.RIGHT, indent: { right: 1280 }, children: [run(l.office, FONT.body, SIZE.body)] }),
    new Paragraph({ spacing: LINE, alignment: AlignmentType.RIGHT, indent: { right: 1280 }, children: [run(chineseDate(dayString(l.dated)), FONT.body, SIZE.body)] }),
  );
  if (l.cc.length) {
    children.push(new Paragraph({
      spacing: { before: 800, ...LINE }, indent: { left: 320, right: 320 },
      border: { top: { style: BorderStyle.SINGLE, size: 4, color: '000000', space: 4 }, bottom: { style: BorderStyle.SINGLE, size: 4, color: '000000', space: 4 } },
      children: [run(`抄送:${l.cc.join(',')}。`, FONT.body, SIZE.small)],
    }));
  }
  const doc = new Document({
    creator: l.office, title: l.title, description: l.number,
    sections: [{
      properties: {
        page: {
          size: { width: convertMillimetersToTwip(210), height: convertMillimetersToTwip(297) },
          // 信函格式: the office's mark starts 30 mm from the top; the text block is 156 mm wide.
          margin: { top: convertMillimetersToTwip(30), bottom: convertMillimetersToTwip(35), left: convertMillimetersToTwip(28), right: convertMillimetersToTwip(26) },
        },
      },
      children,
    }],
  });
  return Packer.toBuffer(doc);
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The same letter as a printable page (A4 print CSS, no scripts). */
export function letterHtml(l: LetterRow): string {
  const paras = (t: string) => t.split(/\r?\n/).filter((s) => s.trim()).map((s) => `<p class="b">${escape(s.trim())}</p>`).join('');
  const sections = letterSections(l).map((s) => `<p class="h">${escape(s.heading)}</p>${paras(s.text)}`).join('');
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>${escape(l.number)} ${escape(l.title)}</title><style>
@page { size: A4; margin: 30mm 26mm 35mm 28mm; }
body { font-family: "仿宋_GB2312", FangSong, STFangsong, serif; font-size: 16pt; line-height: 29pt; max-width: 156mm; margin: 0 auto; color: #000; }
.mark { text-align: center; color: #e60012; font-family: "方正小标宋简体", "SimSun", serif; font-size: 30pt; line-height: 40pt; margin: 0; }
.rule { border: 0; border-top: 3px solid #e60012; border-bottom: 1px solid #e60012; height: 2px; margin: 4pt 0 0; }
.no { text-align: right; margin: 8pt 0 0; } h1 { text-align: center; font-family: "方正小标宋简体", "SimSun", serif; font-size: 22pt; line-height: 35pt; font-weight: normal; margin: 20pt 0; }
p { margin: 0; } .b, .h { text-indent: 2em; } .h { font-family: "黑体", SimHei, sans-serif; } .sign { text-align: right; padding-right: 4em; }
.cc { margin-top: 40pt; border-top: 1px solid #000; border-bottom: 1px solid #000; font-size: 14pt; padding: 0 1em; }
</style></head><body>
<p class="mark">${escape(l.office)}</p><hr class="rule"><p class="no">${escape(l.number)}</p>
<h1>${escape(l.title)}</h1><p>${escape(l.recipient)}:</p>${sections}
<p class="sign" style="margin-top:30pt">${escape(l.office)}</p><p class="sign">${chineseDate(dayString(l.dated))}</p>
${l.cc.length ? `<p class="cc">抄送:${escape(l.cc.join(','))}。</p>` : ''}
</body></html>`;
}
