import { ApiError, get } from '../api';
import type { FormSchema } from './FormView';

export interface StoredForm { key: string; version: number; schema: FormSchema; note: string | null; createdBy: string; createdAt: string; fields: string[] }

/** What a task without a stored form asks for: one opinion. */
export const FALLBACK_FORM: FormSchema = {
  type: 'default',
  components: [{ id: 'Field_opinion', type: 'textarea', key: 'opinion', label: '办理意见', defaultValue: '同意', validate: { required: true, maxLength: 500 } }],
};

/** The newest version of a task's form (GET /api/forms/:key); tasks without a form key, or with an unknown one, get the fallback. */
export async function formForTask(formKey: string | null): Promise<{ schema: FormSchema; key: string | null; version: number | null }> {
  if (!formKey) return { schema: FALLBACK_FORM, key: null, version: null };
  try {
    const f = await get<StoredForm>(`/api/forms/${encodeURIComponent(formKey)}`);
    return { schema: f.schema, key: f.key, version: f.version };
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return { schema: FALLBACK_FORM, key: formKey, version: null };
    throw e;
  }
}
