import { lazy, Suspense, useEffect, useRef, useState } from 'react';
import { Alert, App, Modal, Spin, Typography } from 'antd';
import type { Form } from '@bpmn-io/form-js-viewer';
import { post, errText } from '../api';
import { t } from '../i18n';
import type { FormSchema } from '../forms/FormView';
import { formForTask } from '../forms/schemas';

/**
 * A task's form: the @bpmn-io/form-js schema stored under the task's camunda:formKey, rendered by the
 * form-js viewer. Its data goes to POST /api/tasks/:id/complete; completeCase reads `decision` (or `result`).
 */
// The form-js viewer loads when a form opens, not with the task list.
const FormView = lazy(() => import('../forms/FormView'));

export interface FormTask { id: string; name: string | null; formKey: string | null; caseNumber?: string | null; assignee?: string | null }

export function TaskFormModal({ task, username, onClose }: { task: FormTask | null; username: string; onClose(done: boolean): void }) {
  const [loaded, setLoaded] = useState<{ schema: FormSchema; key: string | null; version: number | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const form = useRef<Form | null>(null);
  const { message } = App.useApp();

  useEffect(() => {
    setLoaded(null);
    setError(null);
    if (!task) return;
    let live = true;
    formForTask(task.formKey).then((f) => live && setLoaded(f), (e) => live && setError(errText(e)));
    return () => { live = false; };
  }, [task]);

  if (!task) return null;
  const submit = async () => {
    if (!form.current) return;
    const { data, errors } = form.current.submit();
    if (Object.keys(errors).length) return; // form-js shows each error under its field
    setBusy(true);
    try {
      if (task.assignee !== username) await post(`/api/tasks/${task.id}/claim`);
      await post(`/api/tasks/${task.id}/complete`, { variables: data });
      message.success(t('tasks.completed'));
      onClose(true);
    } catch (e) {
      message.error(errText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      open
      title={<span data-testid="task-form-title">{t('form.title', { step: task.name ?? '' })}{task.caseNumber ? ` · ${task.caseNumber}` : ''}</span>}
      okText={t('form.submit')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      okButtonProps={{ 'data-testid': 'task-form-submit', disabled: !loaded } as never}
      onCancel={() => onClose(false)}
      destroyOnHidden
      onOk={submit}
    >
      <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
        {loaded?.key ?? task.formKey ?? t('form.default')}{loaded?.version ? ` · v${loaded.version}` : ''}
      </Typography.Paragraph>
      {error && <Alert type="error" showIcon title={error} />}
      {!loaded && !error && <Spin />}
      {loaded && (
        <div data-testid="task-form" data-form-key={loaded.key ?? ''} data-form-version={loaded.version ?? ''}>
          <Suspense fallback={<Spin />}><FormView schema={loaded.schema} onReady={(f) => { form.current = f; }} /></Suspense>
        </div>
      )}
    </Modal>
  );
}
