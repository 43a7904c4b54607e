import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { BadRequestError } from '../../engine/errors.js';
import { GB_COLUMNS, REQUIRED_COLUMNS, type RawRating, type RowResult } from './intake.js';

export const MAX_FILE_ROWS = 200_000;

/** A cell as text: dates as ISO, rich text flattened, formulas by their result. */
function cellText(v: ExcelJS.CellValue): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    if ('richText' in v) return v.richText.map((t) => t.text).join('');
    if ('result' in v) return cellText(v.result as ExcelJS.CellValue);
    if ('text' in v) return String(v.text);
    return '';
  }
  return String(v);
}

/** Header row (GB/T 39046 names) + data rows → RawRating; unknown columns (e.g. 原因 of a rejected list) are ignored. */
function toRatings(header: string[], rows: string[][]): RawRating[] {
  const names = header.map((h) => h.replace(/^\uFEFF/, '').trim());
  const missing = REQUIRED_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length) throw new BadRequestError(`表头缺少列:${missing.join('、')}(应使用 GB/T 39046 列名)`);
  if (!names.includes('满意度') && !names.includes('满意度代码')) throw new BadRequestError('表头缺少列:满意度 或 满意度代码');
  if (rows.length > MAX_FILE_ROWS) throw new BadRequestError(`文件超过 ${MAX_FILE_ROWS} 行`);
  const fields = names.map((n) => GB_COLUMNS[n]);
  return rows.filter((r) => r.some((c) => c.trim() !== '')).map((r) => {
    const out: RawRating = {};
    fields.forEach((f, i) => {
      if (f && r[i] !== undefined && r[i] !== '') (out as Record<string, unknown>)[f] = r[i];
    });
    return out;
  });
}

export async function readCsv(buf: Buffer): Promise<RawRating[]> {
  const wb = new ExcelJS.Workbook();
  // map keeps every value as the text it is: 评价时间 20261201093000 must not become a number or a date.
  const ws = await wb.csv.read(Readable.from([buf]), { map: (v: unknown) => String(v ?? ''), parserOptions: { trim: false } } as never);
  return fromSheet(ws);
}

export async function readXlsx(buf: Buffer): Promise<RawRating[]> {
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(buf as unknown as ArrayBuffer);
  } catch {
    throw new BadRequestError('无法读取 .xlsx 文件');
  }
  const ws = wb.worksheets[0];
  if (!ws) throw new BadRequestError('.xlsx 文件没有工作表');
  return fromSheet(ws);
}

function fromSheet(ws: ExcelJS.Worksheet): RawRating[] {
  const rows: string[][] = [];
  ws.eachRow({ includeEmpty: false }, (row) => {
    const values = row.values as ExcelJS.CellValue[]; // 1-based
    rows.push(values.slice(1).map(cellText));
  });
  if (!rows.length) throw new BadRequestError('文件为空');
  const width = rows[0]!.length;
  return toRatings(rows[0]!, rows.slice(1).map((r) => Array.from({ length: width }, (_, i) => r[i] ?? '')));
}

/** By the name's ending (.csv or .xlsx); anything else is refused. */
export async function readRatingFile(fileName: string, buf: Buffer): Promise<RawRating[]> {
  if (/\.csv$/i.test(fileName)) return readCsv(buf);
  if (/\.xlsx$/i.test(fileName)) return readXlsx(buf);
  throw new BadRequestError('只支持 .csv 和 .xlsx 文件');
}

/** The rejected rows as a CSV with the reasons in a 原因 column: correct it and import it again. */
export function rejectedCsv(rows: RawRating[], results: RowResult[]): string {
  const cols = ['办件编号', '评价次数', '评价渠道', '满意度', '满意度代码', '文字评价', '评价人', '评价时间', '行政区划', '事项编码', '申请人类型', '联系电话', '测评内容', '部门'];
  const quote = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [[...cols, '原因'].join(',')];
  for (const r of results) {
    if (r.status !== 'rejected') continue;
    const raw = rows[r.row - 1] as Record<string, unknown>;
    lines.push([...cols.map((c) => quote(String(raw[GB_COLUMNS[c]!] ?? ''))), quote(r.reasons.join(';'))].join(','));
  }
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
