import { createHash, randomUUID } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import type { Knex } from 'knex';
import { BadRequestError, DubanError } from '../../engine/errors.js';

/** What a progress report or a milestone's evidence may carry: photos and PDF scans, nothing that runs. */
export const ALLOWED_TYPES: Record<string, string[]> = {
  'image/jpeg': ['jpg', 'jpeg'],
  'image/png': ['png'],
  'image/webp': ['webp'],
  'application/pdf': ['pdf'],
};
export const MAX_FILE_BYTES = 5 * 1024 * 1024;
export const MAX_FILES = 6;

export class PayloadTooLargeError extends DubanError {
  constructor(detail: string) {
    super(413, 'payload-too-large', detail);
  }
}

export interface Upload {
  name: string;
  /** The type the sender claims; must agree with the content. */
  declaredType: string;
  data: Buffer;
}

export interface CheckedFile {
  id: string;
  name: string;
  contentType: string;
  size: number;
  sha256: string;
  data: Buffer;
}

/**
 * A file name as typed on a phone, kept only when it is a plain name: no folders, no "..", no control
 * characters, no hidden or reserved names. Refused rather than repaired, so nobody is surprised later.
 */
export function checkFileName(name: string): string {
  const n = name.normalize('NFC');
  if (!n || n.length > 120) throw new BadRequestError('文件名为空或过长 (file name empty or longer than 120 characters)');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f/\\:*?"<>|]/.test(n) || n.includes('..') || n.startsWith('.') || n.trim() !== n) {
    throw new BadRequestError(`文件名不合法:${JSON.stringify(n)} (file name must be a plain name without folders or special characters)`);
  }
  return n;
}

/**
 * Check one upload on its bytes, not its name: the detected type must be allowed, equal the declared type,
 * and match the name's extension. Refused files write nothing.
 */
export async function checkUpload(u: Upload): Promise<CheckedFile> {
  const name = checkFileName(u.name);
  if (u.data.length === 0) throw new BadRequestError(`文件 ${name} 为空 (empty file)`);
  if (u.data.length > MAX_FILE_BYTES) throw new PayloadTooLargeError(`文件 ${name} 超过 ${MAX_FILE_BYTES / 1024 / 1024} MB (file too large)`);
  const detected = await fileTypeFromBuffer(u.data);
  if (!detected || !ALLOWED_TYPES[detected.mime]) {
    throw new BadRequestError(`文件 ${name} 的内容不是允许的类型(JPEG、PNG、WebP 图片或 PDF) (content type not allowed)`);
  }
  if (u.declaredType !== detected.mime && !(u.declaredType === 'image/jpg' && detected.mime === 'image/jpeg')) {
    throw new BadRequestError(`文件 ${name} 声明为 ${u.declaredType},内容却是 ${detected.mime} (declared type does not match the content)`);
  }
  const ext = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1).toLowerCase() : '';
  if (!ALLOWED_TYPES[detected.mime]!.includes(ext)) {
    throw new BadRequestError(`文件 ${name} 的扩展名与内容 ${detected.mime} 不符 (extension does not match the content)`);
  }
  return { id: randomUUID(), name, contentType: detected.mime, size: u.data.length, sha256: createHash('sha256').update(u.data).digest('hex'), data: u.data };
}

export async function checkUploads(uploads: Upload[]): Promise<CheckedFile[]> {
  if (uploads.length > MAX_FILES) throw new BadRequestError(`最多上传 ${MAX_FILES} 个文件 (at most ${MAX_FILES} files)`);
  const out: CheckedFile[] = [];
  for (const u of uploads) out.push(await checkUpload(u));
  return out;
}

export async function storeFiles(trx: Knex.Transaction, files: CheckedFile[], owner: { projectId: string; reportId: number | null }, actor: string): Promise<void> {
  for (const f of files) {
    await trx('files').insert({
      id: f.id, project_id: owner.projectId, report_id: owner.reportId, name: f.name, content_type: f.contentType,
      size: f.size, sha256: f.sha256, data: f.data, uploaded_by: actor,
    });
  }
}

/** RFC 6266/5987 Content-Disposition that survives Chinese names; images inline, the rest as attachment. */
export function contentDisposition(name: string, contentType: string): string {
  const kind = contentType.startsWith('image/') ? 'inline' : 'attachment';
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
